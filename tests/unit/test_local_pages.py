"""The local stack serves the browser pages (tools/web/portal, tools/web/app) and nothing else
from disk, with a policy that lets them run only their own scripts."""
import pytest

from securelogin_local.stack import static_file


@pytest.fixture
def web(tmp_path):
    (tmp_path / "portal").mkdir()
    (tmp_path / "portal" / "index.html").write_text("<!doctype html><title>Portal</title>")
    (tmp_path / "portal" / "config.py").write_text("SECRET = 1")
    (tmp_path / "secret.txt").write_text("not a page")
    return tmp_path


def test_a_site_serves_its_index_with_a_strict_content_security_policy(web):
    answer = static_file("GET", "portal", "/portal/", web)
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert answer.body == b"<!doctype html><title>Portal</title>"
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


def test_the_bare_site_path_redirects_to_the_index(web):
    answer = static_file("GET", "app", "/app", web)
    assert answer.status == 301 and answer.headers["Location"] == "/app/"


@pytest.mark.parametrize("path", ["/portal/../secret.txt", "/portal/%2e%2e/secret.txt",
                                  "/portal/../portal/../secret.txt", "/portal/missing.html", "/portal/config.py"])
def test_nothing_outside_the_site_or_of_another_kind_is_served(web, path):
    assert static_file("GET", "portal", path, web).status == 404


def test_pages_are_read_only(web):
    assert static_file("POST", "portal", "/portal/", web).status == 405
