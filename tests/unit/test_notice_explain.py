"""``privlog policy explain``: every catalogue entry has its sentence, and the examples say what their policies promise."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from privlog._cli import main
from privlog._errors import PolicyError, UsageError
from privlog._keys.epochs import ROTATIONS
from privlog._notice.explain import explain, load_policy
from privlog._notice.locale import languages, load
from privlog._notice.sentences import field_sentence
from privlog._policy.catalogue import EVENT_KINDS, FIELDS, HEADER_ACTIONS
from privlog._policy.model import HASH_ALGORITHMS, Policy
from privlog._policy.sections import SINKS
from privlog._policy.types import SUBJECT_FIELDS, FieldRule

from ..support.policies import policy_dict

EXAMPLES = Path(__file__).parents[2] / "examples"
GOLDEN = Path(__file__).parent / "golden" / "notice"
POLICIES = ("access-7-days", "connections-30-days", "security-90-days", "analytics-2-years")


def _notice(name: str, lang: str, fmt: str = "md", environ: dict[str, str] | None = None) -> str:
    return explain(load_policy(EXAMPLES / f"{name}.toml", environ={}), lang, fmt, environ=environ or {})


def _plain(text: str) -> str:
    """The notice as one line of words: Markdown escapes and line breaks do not split a fact."""
    return re.sub(r"\s+", " ", text.replace("\\", ""))


# -- every field, action and option of the catalogue has its sentence -------------------------


@pytest.mark.parametrize("lang", languages())
def test_every_field_and_action_has_a_sentence_in_every_language(lang: str) -> None:
    loc = load(lang)
    missing = [
        f"field.{name}.{action}"
        for name, spec in FIELDS.items()
        for action in spec.actions
        if not loc.has(f"field.{name}.{action}")
    ]
    assert missing == []


@pytest.mark.parametrize("lang", languages())
def test_each_action_of_a_field_reads_differently(lang: str) -> None:
    loc = load(lang)
    for name, spec in FIELDS.items():
        sentences = [field_sentence(loc, name, _rule(name, a)) for a in spec.actions]
        assert len(set(sentences)) == len(sentences), name
        assert all(s.strip() for s in sentences)


@pytest.mark.parametrize("lang", languages())
def test_headers_events_rotations_sinks_and_algorithms_have_sentences(lang: str) -> None:
    loc = load(lang)
    keys = (
        [f"header.{a}" for a in HEADER_ACTIONS]
        + [f"event.{e}" for e in EVENT_KINDS]
        + [f"event_detail.{e}" for e in EVENT_KINDS - {"http"}]
        + [f"keys.rotation_{r}" for r in ROTATIONS]
        + [f"sink.{s}" for s in SINKS]
        + [f"keys.algorithm_{a}" for a in HASH_ALGORITHMS]
        + [f"subject.{f}" for f in SUBJECT_FIELDS]
    )
    assert [k for k in keys if not loc.has(k)] == []


def _rule(name: str, action: str, **changed: Any) -> FieldRule:
    options = {o.name: o.default for o in FIELDS[name].options.get(action, ())}
    options.update(changed)
    return FieldRule(action=action, options=options)


def _option_cases() -> list[tuple[str, str, str]]:
    return [
        (name, action, option.name)
        for name, spec in FIELDS.items()
        for action, options in spec.options.items()
        for option in options
    ]


def _sample(default: Any) -> Any:
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default - 8  # another whole number of address parts
    if isinstance(default, list):
        return ["zz_marker"]
    if isinstance(default, dict):  # kept values and their shapes
        return {"zz_marker": "int"}
    return "zz_marker"


@pytest.mark.parametrize("lang", languages())
@pytest.mark.parametrize(("name", "action", "option"), _option_cases())
def test_every_option_changes_the_sentence(lang: str, name: str, action: str, option: str) -> None:
    spec = FIELDS[name]
    (opt,) = [o for o in spec.options[action] if o.name == option]
    changed = {option: _sample(opt.default)}
    if spec.check_rule is not None:  # e.g. a query value kept must also be allowed
        try:
            spec.check_rule({**_rule(name, action).options, **changed}, "x")
        except PolicyError:
            changed |= {
                o.name: _sample(o.default) for o in spec.options[action] if isinstance(o.default, list)
            }
    base = {**changed, option: opt.default}
    loc = load(lang)
    assert field_sentence(loc, name, _rule(name, action, **changed)) != field_sentence(
        loc, name, _rule(name, action, **base)
    )


# -- the wording of the address shortening follows the prefixes --------------------------------


@pytest.mark.parametrize(
    ("v4", "v6", "expected"),
    [
        (
            24,
            48,
            "its first three of four parts before it is stored (an IPv6 address to its first three of eight groups), so that it no longer identifies",
        ),
        (16, 32, "its first two of four parts"),
        (20, 56, "its first 20 of 32 bits"),
        (32, 64, "its full length (not shortened at all)"),
    ],
)
def test_truncation_is_described_by_its_prefixes(v4: int, v6: int, expected: str) -> None:
    sentence = field_sentence(
        load("en"), "client_ip", _rule("client_ip", "truncate", ipv4_prefix=v4, ipv6_prefix=v6)
    )
    assert expected in sentence
    assert ("can still identify your connection" in sentence) == (v4 > 24 or v6 > 48)


# -- golden files: the whole text of each shipped example, in each language --------------------


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("name", POLICIES)
def test_golden_notice(name: str, lang: str) -> None:
    text = _notice(name, lang)
    golden = GOLDEN / f"{name}.{lang}.md"
    if os.environ.get("PRIVLOG_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", POLICIES)
def test_the_three_formats_carry_the_same_sentences(name: str) -> None:
    md, html, text = (_notice(name, "en", fmt) for fmt in ("md", "html", "text"))
    assert html.startswith('<section class="privlog-notice" lang="en">')
    for line in md.splitlines():
        words = _plain(line.lstrip("#- "))
        if words:
            assert words in _plain(text)
            assert words.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
                '"', "&quot;"
            ).replace("'", "&#x27;") in _plain(html)
    assert max(len(line) for line in text.splitlines()) <= 78 or "https://" in text


# -- the facts of the original policy paragraphs, sentence by sentence --------------------------
#
# Each fixture is a paragraph of the privacy policy an example implements, copied verbatim, split
# into its sentences; beside each sentence, what the generated notice must say for it to be
# stated (patterns that must appear, and "!pattern" for what must not).

KIRIM_LOG_FILES = [
    (
        "When you visit our platform, so-called usage data is temporarily stored on our web server as a log "
        "for statistical purposes in order to improve the quality of our websites.",
        {"en": ["stored only on our own server"], "de": ["nur auf unserem eigenen Server gespeichert"]},
    ),
    (
        "the page from which the file was requested",
        {"en": ["the website you came from"], "de": ["die Website, von der Sie kamen"]},
    ),
    (
        "the name of the file",
        {"en": ["the page or file you requested"], "de": ["die aufgerufene Seite oder Datei"]},
    ),
    (
        "the date and time of the request",
        {"en": ["date and time of the request"], "de": ["Datum und Uhrzeit der Anfrage"]},
    ),
    (
        "the amount of data transferred",
        {"en": ["amount of data transferred to you"], "de": ["Menge der an Sie übertragenen Daten"]},
    ),
    (
        "the access status (file transferred, file not found)",
        {"en": ["access status", "not found"], "de": ["Zugriffsstatus", "nicht gefunden"]},
    ),
    (
        "the description of the type of web browser used",
        {"en": ["type and major version of your browser"], "de": ["Typ und Hauptversion Ihres Browsers"]},
    ),
    (
        "the IP address of the requesting computer, which is shortened so that a personal reference can no longer be established.",
        {
            "en": [
                "IP address, shortened to its first two of four parts",
                "no longer identifies your connection",
            ],
            "de": [
                "IP-Adresse, vor dem Speichern gekürzt auf ihre ersten zwei von vier Teilen",
                "nicht mehr erkennen",
            ],
        },
    ),
    (
        "The aforementioned log data is only stored anonymously.",
        {
            "en": ["!pseudonym", "!account", "!full IP"],
            "de": ["!Pseudonym", "!Benutzerkonto", "!vollständige IP"],
        },
    ),
    (
        "We store this log data strictly for a maximum of seven days in the interest of being able to recognize, "
        "limit and eliminate attacks on our websites.",
        {
            "en": ["deleted after at most 7 days", "security of the website"],
            "de": ["spätestens nach 7 Tagen gelöscht", "security of the website"],
        },
    ),
    (
        "After this period, we delete this data.",
        {"en": ["deleted automatically"], "de": ["automatisch gelöscht"]},
    ),
    (
        "The legal basis is Art. 6 para. 1 p. 1 lit. f GDPR.",
        {
            "en": ["legal basis is legitimate interest, Art. 6(1)(f) GDPR"],
            "de": ["Rechtsgrundlage ist berechtigtes Interesse, Art. 6 Abs. 1 lit. f DSGVO"],
        },
    ),
]

ALINME_LOGS = [
    (
        "Log and Usage Data: IP address, browser type and version, operating system, access times, and pages viewed.",
        {
            "en": [
                "pseudonym of your IP address",
                "type and major version of your browser, your operating system",
                "date and time of the request",
                "the page or file you requested",
            ],
            "de": [
                "Pseudonym Ihrer IP-Adresse",
                "Typ und Hauptversion Ihres Browsers, Ihr Betriebssystem",
                "Datum und Uhrzeit der Anfrage",
                "die aufgerufene Seite oder Datei",
            ],
        },
    ),
    (
        "These logs help diagnose errors, prevent abuse, and optimize system performance.",
        {"en": ["attacks and abuse"], "de": ["attacks and abuse"]},
    ),
    (
        "Device Information: device identifiers, screen resolution, and language preferences to improve user experience.",
        {"en": ["kind of device", "preferred language"], "de": ["Art des Geräts", "bevorzugte Sprache"]},
    ),
    (
        "Analytics or marketing cookies are used only with your consent, as required under Art. 6 (1)(a) GDPR and § 25 TTDSG.",
        {
            "en": ["legal basis is consent, Art. 6(1)(a) GDPR and § 25(1) TTDSG"],
            "de": ["Rechtsgrundlage ist Einwilligung, Art. 6 Abs. 1 lit. a DSGVO und § 25 Abs. 1 TTDSG"],
        },
    ),
    (
        "To improve stability and user experience, we process pseudonymous usage data such as page views, feature interactions, and device information.",
        {
            "en": ["pseudonym of your user account", "Pseudonyms are keyed hashes"],
            "de": ["Pseudonym Ihres Benutzerkontos", "Pseudonyme sind Hashes"],
        },
    ),
    (
        "Essential technical logs are collected under our legitimate interest in maintaining a secure and functional service (Art. 6 (1)(f)).",
        {
            "en": ["legal basis is legitimate interest, Art. 6(1)(f) GDPR"],
            "de": ["Rechtsgrundlage ist berechtigtes Interesse, Art. 6 Abs. 1 lit. f DSGVO"],
        },
    ),
    (
        "Any optional analytics that rely on cookies or device identifiers are only activated after you have given consent, as required by § 25 TTDSG.",
        {
            "en": ["kept only if you have not objected", "Sec-GPC: 1", "DNT: 1"],
            "de": ["nur geführt, wenn Sie nicht widersprochen haben", "Sec-GPC: 1", "DNT: 1"],
        },
    ),
    (
        "Raw logs are typically deleted within ninety days, while aggregated statistics may be kept longer in anonymised form.",
        {
            "en": ["deleted after at most 90 days", "anonymised usage statistics"],
            "de": ["spätestens nach 90 Tagen gelöscht", "anonymised usage statistics"],
        },
    ),
    (
        "Security logs are retained no longer than necessary, typically up to ninety days.",
        {"en": ["at most 90 days"], "de": ["nach 90 Tagen"]},
    ),
    (
        "Technical logs, such as IP addresses or access metadata, are stored for up to 90 days to maintain system security and detect fraud.",
        {
            "en": ["at most 90 days", "detecting and investigating attacks and abuse"],
            "de": ["nach 90 Tagen", "detecting and investigating attacks and abuse"],
        },
    ),
    (
        "After that, they are automatically deleted or anonymised.",
        {"en": ["deleted automatically"], "de": ["automatisch gelöscht"]},
    ),
]

# The peer addresses of relayed connections are outside what a web middleware sees; the rest of
# the row is checked.
MINDMORE_CONNECTION_LOGS = [
    (
        "Session start/end timestamps",
        {
            "en": ["when it started and ended", "date and time of the request"],
            "de": ["Beginn und Ende", "Datum und Uhrzeit der Anfrage"],
        },
    ),
    (
        "client & peer IP addresses and ports",
        {
            "en": ["pseudonym of your IP address", "network port"],
            "de": ["Pseudonym Ihrer IP-Adresse", "Netzwerk-Port"],
        },
    ),
    ("protocol type", {"en": ["protocol type"], "de": ["Art des Protokolls"]}),
    (
        "amount of relayed data",
        {
            "en": ["amount of data you sent", "amount of data transferred to you"],
            "de": ["Menge der von Ihnen gesendeten Daten", "Menge der an Sie übertragenen Daten"],
        },
    ),
    (
        "authentication events",
        {
            "en": ["each sign-in, failed sign-in attempt"],
            "de": ["jeder Anmeldung, jedem fehlgeschlagenen Anmeldeversuch"],
        },
    ),
    (
        "To provide TURN services, maintain security, detect abuse",
        {
            "en": ["operating and securing the relay service"],
            "de": ["operating and securing the relay service"],
        },
    ),
    (
        "monitor, secure, and optimize our network (Art. 6 (1)(f) – legitimate interests);",
        {
            "en": ["legal basis is legitimate interest, Art. 6(1)(f) GDPR"],
            "de": ["Rechtsgrundlage ist berechtigtes Interesse, Art. 6 Abs. 1 lit. f DSGVO"],
        },
    ),
    (
        "Connection logs | [e.g. 30 days]",
        {"en": ["deleted after at most 30 days"], "de": ["spätestens nach 30 Tagen gelöscht"]},
    ),
]

ALIPARTNERSHIP_ANALYTICS = [
    (
        "According to our customised settings, Google Analytics (web analytics tool) deletes the gathered information "
        "on the website users’ behavior in 2 years since every particular visitor’s last access to the website.",
        {
            "en": ["deleted 730 days after your last visit"],
            "de": ["730 Tagen nach Ihrem letzten Besuch gelöscht"],
        },
    ),
    (
        "The data about your browser and device is used to personalise the website visual appearance",
        {
            "en": ["type and major version of your browser", "kind of device"],
            "de": ["Typ und Hauptversion Ihres Browsers", "Art des Geräts"],
        },
    ),
    (
        "The way you navigate the store is analysed in order to let us research the ways to improve the website interface",
        {
            "en": ["the page or file you requested", "analysing how visitors navigate the shop"],
            "de": ["die aufgerufene Seite oder Datei", "analysing how visitors navigate the shop"],
        },
    ),
]

FACTS = [
    ("access-7-days", KIRIM_LOG_FILES),
    ("security-90-days", ALINME_LOGS),
    ("connections-30-days", MINDMORE_CONNECTION_LOGS),
    ("analytics-2-years", ALIPARTNERSHIP_ANALYTICS),
]


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize(("name", "sentences"), FACTS, ids=[f[0] for f in FACTS])
def test_the_notice_states_every_fact_of_the_original_paragraph(
    name: str, sentences: list[tuple[str, dict[str, list[str]]]], lang: str
) -> None:
    text = _plain(_notice(name, lang)).casefold()  # a list item starts with a capital
    unstated = []
    for sentence, expected in sentences:
        for pattern in expected[lang]:
            present = pattern.lstrip("!").casefold() in text
            if present == pattern.startswith("!"):
                unstated.append((sentence, pattern))
    assert unstated == []


# -- options beyond the fields --------------------------------------------------------------------


def _policy(**top: Any) -> Policy:
    data = policy_dict()
    data.update(top)
    return Policy.from_dict(data, environ={"PRIVLOG_SECRET": "s" * 20 + "0123456789abcdefghij"})


def test_the_collectors_host_is_named_but_not_its_path() -> None:
    policy = _policy(export={"sink": "otlp"})
    text = explain(
        policy, environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "https://logs.example.eu:4318/v1/x?token=abc"}
    )
    assert "sent to the log collector at logs.example.eu." in text
    assert "token" not in text
    assert "sent to our own log collector." in explain(policy, environ={})


def test_metrics_are_described_as_counts_without_a_person() -> None:
    text = explain(_policy(metrics={"enabled": True}), environ={})
    assert "From the access log we also count requests" in text


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_rotation_is_stated_and_reversible_pseudonyms_name_who_can_open_them(rotation: str) -> None:
    data = policy_dict(user_id="reversible", client_ip="cryptopan")
    data["secret"] = {"rotation": rotation}
    text = _plain(explain(Policy.from_dict(data, environ={"PRIVLOG_SECRET": "s" * 20 + "0123456789abcdefghij"}), environ={}))
    assert load("en").text(f"keys.rotation_{rotation}") in text
    assert "only to answer a lawful request" in text
    assert "keeps the structure of the network" in text


def test_a_key_store_says_when_keys_are_destroyed(tmp_path: Path) -> None:
    from privlog._keys.store import KeyStore

    KeyStore.init(tmp_path / "keys", "weekly", 45)
    data = policy_dict(client_ip="hash")
    data["secret"] = {"store": str(tmp_path / "keys")}
    text = _plain(explain(Policy.from_dict(data, environ={}), environ={}))
    assert "A new key is used every week" in text
    assert "destroyed once the last record made with it has expired (45 days after its use)" in text


def test_an_unknown_language_names_the_choices() -> None:
    with pytest.raises(UsageError, match="did you mean 'de'"):
        explain(_policy(), "dee")


# -- the command --------------------------------------------------------------------------------


def test_the_command_needs_no_secret_and_prints_no_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRIVLOG_SECRET", raising=False)
    assert (
        main(
            ["policy", "explain", str(EXAMPLES / "security-90-days.toml"), "--lang", "de", "--format", "text"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("Server-Logfiles\n===============\n")
    assert "placeholder" not in out


def test_the_readme_shows_the_notice_of_the_seven_day_example() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert _notice("access-7-days", "en", "text") in readme
