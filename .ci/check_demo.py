"""Checks that the server started by the README's first command serves the demo: log in, see accounts."""

import re
import sys

import requests

base = sys.argv[1].rstrip("/")
session = requests.Session()
page = session.get(f"{base}/admin/login/", timeout=30)
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
done = session.post(
    f"{base}/admin/login/",
    data={"username": "admin", "password": "klearly-admin", "csrfmiddlewaretoken": token, "next": "/admin/"},
    headers={"Referer": f"{base}/admin/login/"},
    timeout=30,
)
assert done.url.rstrip("/").endswith("/admin"), "demo admin login failed"
accounts = session.get(f"{base}/admin/accounts/account/", timeout=60)
assert accounts.status_code == 200, accounts.status_code
found = re.search(r"(\d[\d,]*) accounts?", accounts.text)
assert found, "no accounts listed"
signals = session.get(f"{base}/admin/signals_app/signal/", timeout=60)
assert signals.status_code == 200 and "result" in signals.text
print(f"demo OK: logged in as admin, {found.group(0)} listed")
