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
tasks = session.get(f"{base}/admin/playbooks/task/", timeout=60)
demo_tasks = re.search(r"(\d[\d,]*) tasks?", tasks.text) if tasks.status_code == 200 else None

# The web inbox: a CS operator logs in on the login page and sees their inbox.
operator = requests.Session()
page = operator.get(f"{base}/", timeout=30)
assert "/login/" in page.url, f"anonymous / should go to the login page, got {page.url}"
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
inbox = operator.post(
    f"{base}/login/",
    data={"username": "cs.alice", "password": "klearly-demo", "csrfmiddlewaretoken": token, "next": "/"},
    headers={"Referer": f"{base}/login/"},
    timeout=30,
)
assert inbox.status_code == 200 and 'id="tasklist"' in inbox.text, "cs.alice could not open the inbox"
counts = [int(n) for n in re.findall(r'<span class="count" title="Open tasks">(\d+)</span>', inbox.text)]
if demo_tasks and demo_tasks.group(1) != "0":
    # Once the demo seeds tasks, the CS team's inbox is not empty.
    assert sum(counts) > 0, "the demo has tasks but cs.alice's inbox views are all empty"
print(f"demo OK: logged in as admin, {found.group(0)} listed; cs.alice's inbox views count {counts} open tasks")
