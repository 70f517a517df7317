"""A generated nginx access log (``combined`` plus ``$http_x_forwarded_for``) for the anonymize benchmark.

Every line has its own client address, and ids, emails and tokens in paths and queries vary
line by line, so privlog's path and query caches only serve what real traffic repeats; user
agents and referrers come from small sets, as in a real log.

python benchmarks/nginx_log.py LINES > access.log
python benchmarks/nginx_log.py LINES UNIQUE   # UNIQUE distinct lines, repeated up to LINES (fast)
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0",
    "python-requests/2.32.3",
)
REFERRERS = (
    "-",
    "-",
    "https://www.google.com/",
    "https://news.example.com/article/42?utm_source=mail",
    "https://shop.example.com/cart",
)


def lines(count: int, seed: int = 1) -> Iterator[str]:
    """``count`` log lines, the same for the same seed."""
    rnd = random.Random(seed)
    start = datetime(2026, 11, 29, 8, 0, 0, tzinfo=timezone.utc)
    for i in range(count):
        if rnd.random() < 0.8:
            address = (
                f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            )
        else:
            address = (
                f"2001:db8:{rnd.randint(0, 0xFFFF):x}:{rnd.randint(0, 0xFFFF):x}::{rnd.randint(1, 0xFFFF):x}"
            )
        kind = rnd.random()
        if kind < 0.35:
            target = f"/static/app.{rnd.randint(0, 40):x}.js"
        elif kind < 0.6:
            target = f"/users/{rnd.randint(1, 10**6)}/orders?page={rnd.randint(1, 9)}"
        elif kind < 0.8:
            target = f"/api/v1/items?q=item{rnd.randint(0, 10**5)}&page=2&token={rnd.getrandbits(96):024x}"
        elif kind < 0.9:
            target = f"/files/user{rnd.randint(0, 10**5)}@example.com/report.pdf"
        else:
            target = "/"
        when = (start + timedelta(seconds=i // 50)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        status = rnd.choice((200, 200, 200, 304, 404, 302))
        xff = "-" if rnd.random() < 0.9 else f"198.51.100.{rnd.randint(1, 254)}"
        yield (
            f'{address} - - [{when}] "GET {target} HTTP/1.1" {status} {rnd.randint(0, 50000)} '
            f'"{rnd.choice(REFERRERS)}" "{rnd.choice(USER_AGENTS)}" "{xff}"\n'
        )


def write(path: str, count: int) -> None:
    with open(path, "w", encoding="ascii") as fh:
        batch = []
        for line in lines(count):
            batch.append(line)
            if len(batch) >= 10_000:
                fh.write("".join(batch))
                batch.clear()
        fh.write("".join(batch))


def repeated(count: int, unique: int) -> Iterator[bytes]:
    """``count`` lines as blocks of ``unique`` distinct ones, repeated: a long input made fast
    enough that the generator is not what a 10-million-line run measures."""
    block = "".join(lines(unique)).encode("ascii")
    for _ in range(count // unique):
        yield block
    yield b"".join(block.splitlines(keepends=True)[: count % unique])


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    if len(sys.argv) > 2:
        for chunk in repeated(count, int(sys.argv[2])):
            sys.stdout.buffer.write(chunk)
    else:
        sys.stdout.writelines(lines(count))
