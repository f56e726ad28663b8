-- A release built from a git tag keeps its commit when its source is removed.
--
-- `kilnctl source remove` deletes the git_sources row and says the source's
-- releases stay; the foreign key sets their git_source_id to null, which the
-- old check (a source exactly when a commit) refused, so removing a source that
-- had produced a release always failed. A commit without a source is now
-- allowed: the release and its wheels stay, and the commit still says what
-- they were built from. A source still implies a commit.
alter table releases drop constraint releases_git_fields;
alter table releases add constraint releases_git_fields
    check (git_source_id is null or git_commit is not null);
