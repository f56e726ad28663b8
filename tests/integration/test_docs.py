"""The README documents every configuration option, exactly as the code defines them."""
from conftest import KILNCTL, ROOT, run


def test_readme_config_table_matches_the_code():
    table = run([KILNCTL, "config", "--markdown"]).stdout
    readme = (ROOT / "README.md").read_text()
    assert table.strip() in readme, (
        "README's configuration table is out of date; regenerate it with "
        "`build/release/kilnctl/kilnctl config --markdown`")


def test_config_file_and_env(tmp_path):
    f = tmp_path / "kiln.conf"
    f.write_text("# local\ns3_bucket = wheels\n")
    out = run([KILNCTL, "--config", f, "config"], env={"KILN_S3_REGION": "eu-west-9",
                                                         "KILN_S3_SECRET_KEY": "s3cr3t"}).stdout
    assert "KILN_S3_BUCKET=wheels\n" in out
    assert "KILN_S3_REGION=eu-west-9\n" in out
    assert "s3cr3t" not in out
    f.write_text("s3_bukket = wheels\n")
    p = run([KILNCTL, "--config", f, "config"], check=False)
    assert p.returncode == 1
    assert f"{f}:1: unknown option 's3_bukket'" in p.stderr
