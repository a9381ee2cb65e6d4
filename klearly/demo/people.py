"""The demo world's people and companies: who each signal comes from, contacts' names, emails and titles, and unique
company names and domains. Pure NumPy; the simulation decides when each person appears."""

from __future__ import annotations

import numpy as np

from klearly.demo.catalog import COUNTRIES, TYPES

BRAND_HEADS = (
    "Nor", "Blue", "Vanta", "Quant", "Hexa", "Luma", "Sky", "Terra", "Orbi", "Zen", "Nova", "Brisk", "Clear",
    "Flux", "Green", "Iron", "Kite", "Loop", "Mint", "North", "Pixel", "Red", "Silver", "Swift", "True", "Vertex",
    "Wave", "Bright", "Core", "Alto", "Beacon", "Cobalt", "Delta", "Echo", "Fjord", "Granite", "Harbor", "Indigo",
    "Juniper", "Kestrel",
)  # fmt: skip
BRAND_TAILS = (
    "ly", "io", "wise", "stack", "forge", "point", "path", "grid", "bit", "labs", "works", "hub", "scale", "line",
    "mark", "field", "base", "sense", "loop", "ware",
)  # fmt: skip

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Sophia", "Mason", "Mia", "Ethan", "Amelia", "Leo", "Hannah",
    "Felix", "Clara", "Jonas", "Chloe", "Hugo", "Sara", "Omar", "Priya", "Arjun", "Mei", "Kenji", "Fatima", "Yusuf",
    "Lena", "Paul", "Julia", "Marco", "Elena", "Diego", "Camille", "Louis", "Ingrid", "Lars", "Anna", "David",
    "Grace", "Samuel", "Nora", "Tom", "Alice", "Ben", "Laura", "Max", "Zoe", "Oscar", "Ines", "Rafael",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Martin", "Bernard", "Dubois", "Muller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Rossi", "Russo", "Bianchi", "Lopez", "Gonzalez", "Perez", "Jansen", "de Vries",
    "Bakker", "Andersson", "Johansson", "Nilsson", "Patel", "Sharma", "Singh", "Tanaka", "Sato", "Kim", "Nguyen",
    "Silva", "Santos", "Oliveira", "Wilson", "Taylor", "Clarke", "Walker", "Wright", "Hughes", "Evans", "Roberts",
    "Kowalski", "Novak", "Horvat", "Costa", "Moreau", "Laurent",
)  # fmt: skip
JUNK_NAMES = ("xkcd", "Qwrtz", "Bcdfg", "Zzxr", "Hjkl", "Mnbvc", "Trst", "Grrr", "Pfft", "Sdfgh", "Jkl", "Vbnm")
FREE_EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de", "proton.me")
FOUNDER_TITLES = ("CEO", "Founder & CEO", "CTO", "COO", "Co-founder")
SENIOR_TITLES = (
    "VP Sales", "Head of Data", "VP Engineering", "Director of Marketing", "Head of Revenue Operations", "CFO",
    "VP Customer Success", "Chief Data Officer", "Head of Growth", "Director of Analytics",
)  # fmt: skip
USER_TITLES = (
    "Data Analyst", "Engineer", "Software Engineer", "Analytics Engineer", "Product Manager",
    "Sales Operations Manager", "BI Developer", "Account Executive", "Customer Success Manager", "Intern",
    "Data Scientist", "Marketing Analyst", "Engineering Manager", "Senior Data Analyst",
)  # fmt: skip
MARKETING_TITLES = (
    "Marketing Manager", "Head of Growth", "Sales Director", "Consultant", "Student", "Intern", "CMO",
    "Business Development Representative", "Operations Manager", "Product Marketing Manager",
)  # fmt: skip


def assign_contacts(
    rng: np.random.Generator,
    s_account: np.ndarray,
    s_type: np.ndarray,
    s_time: np.ndarray,
    c_account: np.ndarray,
    c_created: np.ndarray,
    c_user: np.ndarray,
    n_accounts: int,
) -> np.ndarray:
    """Pick the contact of each signal among the account's people who existed at that moment.

    Product signals come from users (the first person and those invited), sales signals from the first two people
    (the deciders), marketing signals from anyone; some web visits and most ad clicks stay anonymous.
    """

    def key(account: np.ndarray, moment: np.ndarray) -> np.ndarray:
        """One sortable number per (account, time); times may be negative (accounts older than the window)."""
        return account.astype(np.int64) * (np.int64(1) << 40) + (moment + (np.int64(1) << 36))

    who = np.array([spec.who for spec in TYPES])[s_type]
    u = rng.random(len(s_type))
    # anyone, or the deciders
    all_keys = key(c_account, c_created)
    first_of = np.searchsorted(c_account, np.arange(n_accounts))
    known = np.searchsorted(all_keys, key(s_account, s_time), side="right") - first_of[s_account]
    known = np.where(who == "decider", np.minimum(known, 2), known)
    pick = first_of[s_account] + np.floor(u * known).astype(np.int64)
    contact = np.where(known > 0, pick, -1)
    # users only
    users = np.flatnonzero(c_user)
    user_keys = all_keys[users]
    first_user = np.searchsorted(c_account[users], np.arange(n_accounts))
    n_users = np.searchsorted(user_keys, key(s_account, s_time), side="right") - first_user[s_account]
    user_pick = users[np.minimum(first_user[s_account] + np.floor(u * n_users).astype(np.int64), len(users) - 1)]
    contact = np.where(who == "user", np.where(n_users > 0, user_pick, -1), contact)
    anonymous = rng.random(len(s_type))
    contact[(who == "web") & (anonymous < 0.45)] = -1
    contact[(who == "ad") & (anonymous < 0.85)] = -1
    return contact


def contact_identities(
    rng: np.random.Generator,
    c_account: np.ndarray,
    c_user: np.ndarray,
    employees: np.ndarray,
    employees_known: np.ndarray,
    domains: list[str],
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Names, emails and titles; a few with free email domains, junk names or no title, as in real CRMs."""
    m = len(c_account)
    first_idx = rng.integers(0, len(FIRST_NAMES), m)
    last_idx = rng.integers(0, len(LAST_NAMES), m)
    junk = rng.random(m) < 0.03
    small = employees[c_account] < 20
    free_mail = (junk & (rng.random(m) < 0.8)) | (rng.random(m) < np.where(small, 0.25, 0.1))
    free_domain = rng.integers(0, len(FREE_EMAIL_DOMAINS), m)
    junk_idx = rng.integers(0, len(JUNK_NAMES), (m, 2))
    number = rng.integers(1, 99, m)
    title_draw = rng.random(m)
    title_idx = rng.integers(0, 1000, m)
    position = np.arange(m) - np.searchsorted(c_account, c_account)  # 0 for each account's first person
    first, last, email, title = [], [], [], []
    seen: set[str] = set()
    for i in range(m):
        if junk[i]:
            fn, ln = JUNK_NAMES[junk_idx[i, 0]], JUNK_NAMES[junk_idx[i, 1]]
        else:
            fn, ln = FIRST_NAMES[first_idx[i]], LAST_NAMES[last_idx[i]]
        first.append(fn)
        last.append(ln)
        local = f"{fn}.{ln}".lower().replace(" ", "")
        if free_mail[i]:
            address = f"{local}{number[i]}@{FREE_EMAIL_DOMAINS[free_domain[i]]}"
        else:
            address = f"{local}@{domains[c_account[i]]}"
        k = 2
        candidate = address
        while candidate in seen:
            candidate = address.replace("@", f"{k}@")
            k += 1
        seen.add(candidate)
        email.append(candidate)
        pool: tuple[str, ...]
        if position[i] == 0:
            pool = FOUNDER_TITLES if employees_known[c_account[i]] and employees[c_account[i]] < 50 else SENIOR_TITLES
        elif c_user[i]:
            pool = USER_TITLES
        else:
            pool = MARKETING_TITLES
        title.append("" if title_draw[i] < 0.08 and position[i] else pool[title_idx[i] % len(pool)])
    return first, last, email, title


def brands(rng: np.random.Generator, n: int, country: np.ndarray) -> tuple[list[str], list[str]]:
    """Unique company names and domains ("Vantaforge GmbH", vantaforge.de)."""
    combos = len(BRAND_HEADS) * len(BRAND_TAILS)
    picks = np.concatenate([rng.permutation(combos) for _ in range(n // combos + 1)])[:n]
    names, domains = [], []
    for a in range(n):
        head, tail = BRAND_HEADS[picks[a] // len(BRAND_TAILS)], BRAND_TAILS[picks[a] % len(BRAND_TAILS)]
        brand = head + tail
        round_ = a // combos
        if round_:
            brand = f"{brand} {('Labs', 'Group', 'Systems', 'Digital')[round_ % 4]}{'' if round_ < 4 else round_}"
        _code, _share, _offset, ending, suffix = COUNTRIES[country[a]]
        slug = brand.lower().replace(" ", "")
        names.append(brand + suffix)
        domains.append(slug + (ending if rng.random() < 0.55 else (".com", ".io")[a % 2]))
    return names, domains
