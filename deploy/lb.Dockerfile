# The load balancer in front of the backend replicas: HAProxy from Debian.
ARG BASE=kiln/runtime:latest
FROM ${BASE}
COPY deploy/haproxy.cfg /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 8080
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
