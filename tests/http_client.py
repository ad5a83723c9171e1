"""A small HTTP client for the production-shape tests and bench/load.py: a browser
seen through the reverse proxy (cookies, CSRF token, X-Forwarded-* headers)."""

import re
import urllib.parse
from http.client import HTTPConnection


class Client:
    """A browser seen through the reverse proxy: cookies, CSRF, X-Forwarded-* headers."""

    def __init__(
        self,
        port,
        *,
        address="127.0.0.1",
        client_ip="198.51.100.1",
        peer="127.0.0.1",
        forwarded_for=None,
        scheme="https",
        timeout=30,
    ):
        self.port = port
        self.address = address  # where the server listens
        self.scheme = scheme
        self.timeout = timeout
        self.peer = peer
        self.forwarded_for = forwarded_for or client_ip
        self.cookies = {}
        self.set_cookie_headers = []  # every Set-Cookie received, flags and all

    def request(self, method, path, body=None, headers=None):
        connection = HTTPConnection(
            self.address, self.port, timeout=self.timeout, source_address=(self.peer, 0)
        )
        all_headers = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": self.scheme,
            "X-Forwarded-For": self.forwarded_for,
            "Accept-Language": "nl",
            **(headers or {}),
        }
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                self.set_cookie_headers.append(value)
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        connection.close()
        return response.status, dict(response.getheaders()), text

    def get(self, path):
        return self.request("GET", path)

    def login_form(self, path="/login/"):
        status, _headers, html = self.get(path)
        assert status == 200, status
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token is not None, "no CSRF token on the page"
        return token.group(1)

    def post_login(self, token, username, password, code="", path="/login/"):
        """code=None: a form without the Toegangscode field (stock Django's login)."""
        fields = {"csrfmiddlewaretoken": token, "username": username, "password": password}
        body = urllib.parse.urlencode(fields if code is None else {**fields, "code": code})
        origin = f"{self.scheme}://127.0.0.1:{self.port}"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": origin,
            "Referer": origin + path,
        }
        return self.request("POST", path, body=body, headers=headers)

    def login(self, username, password, code=""):
        return self.post_login(self.login_form(), username, password, code)
