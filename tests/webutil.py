"""A real `nkhandout serve` on 127.0.0.1, for the web and browser tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import FONTS, copy_project

ROOT = Path(__file__).resolve().parent.parent
CLINIC = """name = "Harbour Women's Clinic & Fertility"
phone = "+34 910 555 777"
country = "ES"
website = "https://example.org/harbour"
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`nkhandout serve` in a process of its own, on a copy of the project."""

    def __init__(self, folder, watch=False, prerender=False):
        self.folder = Path(folder)
        self.project = copy_project(self.folder / "project")
        self.clinics = self.folder / "clinics"
        self.clinics.mkdir()
        (self.clinics / "harbour.toml").write_text(CLINIC, "utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, NKHANDOUT_FONTS=str(FONTS), PYTHONUNBUFFERED="1")
        self.log = open(self.folder / "serve.log", "wb")
        args = [sys.executable, "-m", "nkhandout", "--root", str(self.project.root), "serve",
                "--port", str(self.port), "--clinics", str(self.clinics),
                "--watch" if watch else "--no-watch", "--prerender" if prerender else "--no-prerender"]
        self.process = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.folder)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/app.css", timeout=2):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("serve did not start: " + (self.folder / "serve.log").read_text())
                time.sleep(0.1)

    def get(self, path, timeout=30):
        """(status, headers, body) of GET ``path``, sent as it is (no normalising)."""
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
