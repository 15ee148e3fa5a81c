"""The practice team's app in Chromium against `ignis up`: what a person at the desk sees and does."""

import asyncio
import datetime as dt
import json
import re
import uuid
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest
from faststream.nats import NatsMessage
from nats.js.api import ConsumerConfig
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ignis.contracts import subjects
from ignis.kit.bus import make_broker, settle
from tests.conftest import own_stream
from tests.e2e.conftest import METRICS_TOKEN, STAFF_TOKEN, TOOL_SECRET, WEBHOOK_SECRET
from tests.e2e.test_ignis_up import IDENTIFY_DEMO, post_call, tool
from tests.fakes.sipgate import TOKEN, FakeSipgate
from tests.staff_app.conftest import PASSWORD, Praxis, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("team")]
STAFF_API = {"Authorization": f"Bearer {STAFF_TOKEN}"}
WAIT_MS = 20_000


@pytest.fixture(scope="module")
async def team(praxis: Praxis, browser: Browser) -> None:
    """Sabine (admin) and Tom (staff): `ignis staff add`, then each opens the one-time link and chooses a
    password; a second visit of a used link is refused."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE")
    page = await context.new_page()
    for name, role in (("Sabine", "admin"), ("Tom", "staff")):
        link = praxis.add_account(name, role)
        await page.goto(link)
        await expect(page.get_by_role("heading", name="Konto einrichten")).to_be_visible()
        await screenshot(page, "einrichten")
        await page.get_by_label("Neues Passwort").fill(PASSWORD)
        await page.get_by_label("Passwort wiederholen").fill(PASSWORD)
        await page.get_by_role("button", name="Passwort speichern").click()
        await expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
        spent = await page.goto(link)
        assert spent is not None
        assert spent.status == 404
    await context.close()


async def open_app(praxis: Praxis, page: Page, name: str) -> None:
    await page.goto(praxis.url + "/")
    await sign_in(page, name)
    await expect(page.get_by_role("heading", name="Eingang: Anfragen")).to_be_visible()


async def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    await expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Passwort").fill(password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Anmelden").click()


async def ask_tool(praxis: Praxis, name: str, body: dict[str, object]) -> dict[str, object]:
    return await asyncio.to_thread(tool, praxis.running, name, body)


async def new_request(praxis: Praxis, conversation: str, details: str, urgent: bool) -> None:
    created = await ask_tool(
        praxis,
        "create_request",
        {
            "conversation_id": conversation,
            "caller_id": "+4930111222",
            "kind": "rueckruf",
            "details": details,
            "urgent": urgent,
            "callback_number": "030 111222",
        },
    )
    assert created["code"] == "request_created"


async def test_inbox_sign_in_live_urgent_request_claim_complete_and_a_conflict(
    praxis: Praxis, context: BrowserContext, browser_context_2: BrowserContext
) -> None:
    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    await new_request(praxis, "praxis-1", "Bitte um Rückruf wegen Befund", urgent=False)
    await expect(page.get_by_text("Bitte um Rückruf wegen Befund")).to_be_visible(timeout=WAIT_MS)
    assert await page.evaluate("window.praxisAlarms || 0") == 0  # not urgent: no alarm

    # An urgent one arrives while the page is open: highlighted, announced, heard, and listed first.
    await new_request(praxis, "praxis-2", "Starke Brustschmerzen seit heute Morgen", urgent=True)
    row = page.locator("#inbox-rows tr", has_text="Starke Brustschmerzen")
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_have_class(re.compile(r"\bneu\b"))
    await expect(page.get_by_role("alert")).to_contain_text("Neue dringende Anfrage")
    assert await page.evaluate("window.praxisAlarms") == 1
    await expect(page.locator("#inbox-rows tr").first).to_contain_text("Starke Brustschmerzen")
    await screenshot(page, "eingang_dringend")

    # Tom has tabbed to the same request's button (the list holds still while he works in it) when Sabine
    # takes it: his click is a conflict, shown as such.
    tom = await browser_context_2.new_page()
    await open_app(praxis, tom, "Tom")
    toms_button = tom.locator("#inbox-rows tr", has_text="Starke Brustschmerzen").get_by_role(
        "button", name="Übernehmen"
    )
    await toms_button.focus()
    await row.get_by_role("button", name="Übernehmen").click()
    row = page.locator("#inbox-rows tr", has_text="Starke Brustschmerzen")
    await expect(row).to_contain_text("bei Ihnen")
    await asyncio.sleep(2)  # two of Tom's polls would have come and gone
    async with tom.expect_response(re.compile(r"/uebernehmen$")) as answer:
        await toms_button.press("Enter")
    assert (await answer.value).status == 409
    await expect(tom.get_by_role("alert")).to_contain_text("Konflikt")
    await expect(tom.locator("#inbox-rows tr", has_text="Starke Brustschmerzen")).to_contain_text(
        "übernommen von Sabine"
    )
    await screenshot(tom, "eingang_konflikt")

    # Sabine completes it with a note: it leaves the inbox; the JSON staff API (token) sees who and what.
    await row.get_by_label("Notiz").fill("Patient zurückgerufen, 112 empfohlen")
    await row.get_by_role("button", name="Erledigt").click()
    await expect(page.get_by_text("Starke Brustschmerzen")).to_have_count(0)
    async with httpx.AsyncClient(base_url=praxis.running.base_url, headers=STAFF_API) as api:
        done = (await api.get("/staff/requests", params={"status": "done"})).json()["items"]
    assert [(r["claimed_by"], r["completion_note"]) for r in done] == [
        ("Sabine", "Patient zurückgerufen, 112 empfohlen")
    ]

    # Filtered by kind: a call-back request is no prescription.
    await page.get_by_label("Art").select_option("rezept")
    await page.get_by_role("button", name="Filtern").click()
    await expect(page.get_by_text("Keine offenen Anfragen.")).to_be_visible()


async def test_a_calls_transcript_as_a_dialogue_and_the_audit_trail(
    praxis: Praxis, context: BrowserContext
) -> None:
    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    identified = await ask_tool(
        praxis, "identify_patient", {**IDENTIFY_DEMO, "conversation_id": "praxis-call"}
    )
    assert identified["code"] == "identified"
    turns = [
        {"role": "agent", "message": "Praxis Dr. Weber, guten Tag."},
        {"role": "user", "message": "Ich brauche einen Termin."},
    ]
    stored = await asyncio.to_thread(post_call, praxis.running, "praxis-call", "Terminwunsch", turns)
    assert stored == "stored"

    await page.get_by_role("link", name="Anrufe").click()
    row = page.locator("tr", has_text="Terminwunsch")
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_contain_text("Anna Müller")
    await screenshot(page, "anrufe")
    await row.get_by_role("link", name="Gespräch ansehen").click()
    dialogue = page.locator("ol.dialog li")
    await expect(dialogue).to_have_count(2)
    await expect(dialogue.nth(0)).to_contain_text("Empfang (KI)")
    await expect(dialogue.nth(0)).to_contain_text("Praxis Dr. Weber, guten Tag.")
    await expect(dialogue.nth(1)).to_contain_text("Anrufer")
    await expect(dialogue.nth(1)).to_contain_text("Ich brauche einen Termin.")
    await screenshot(page, "gespraech")

    await page.get_by_role("link", name="Anna Müller").click()
    await expect(page.get_by_role("heading", name="Anna Müller")).to_be_visible()
    assert "Müller" not in page.url  # no patient data in URLs
    await page.get_by_role("link", name="Zugriffsprotokoll").click()
    trail = page.locator("table.liste tbody tr")
    await expect(trail.filter(has_text="transkript angesehen")).to_have_count(1)
    await expect(trail.filter(has_text="patient angesehen")).to_have_count(1)
    await expect(trail.first).to_contain_text("Sabine")
    assert "Termin" not in await page.locator("table.liste").inner_text()  # never the content
    await screenshot(page, "protokoll")


async def test_a_failed_sms_is_sent_again_consent_is_toggled_and_the_day_shows_the_booking(
    praxis: Praxis, context: BrowserContext, sipgate_server: FakeSipgate
) -> None:
    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    me = {"conversation_id": "praxis-sms", "caller_id": IDENTIFY_DEMO["caller_id"]}
    identified = await ask_tool(praxis, "identify_patient", {**IDENTIFY_DEMO, **me})
    earliest = (dt.date.today() + dt.timedelta(days=3)).strftime("%d.%m.%Y")
    offered = await ask_tool(
        praxis, "find_slots", {**me, "visit_type": "Akutsprechstunde", "earliest": earliest}
    )
    sipgate_server.answers[:] = [402]  # sipgate: the credit is used up
    slot = offered["slots"][0]  # type: ignore[index]
    booked = await ask_tool(
        praxis,
        "book_appointment",
        {**me, "patient_ref": identified["patient_ref"], "slot_id": slot["slot_id"]},
    )
    assert booked["code"] == "booked"

    await page.get_by_role("link", name="SMS").click()
    failed = page.locator("tr", has_text="fehlgeschlagen")
    for _ in range(40):
        if await failed.count():
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(failed).to_have_count(1)
    await expect(failed).to_contain_text("sipgate-Guthaben aufgebraucht")
    await expect(failed).to_contain_text("Terminbestätigung")
    await screenshot(page, "sms_fehlgeschlagen")
    await failed.get_by_role("button", name="Erneut senden").click()
    for _ in range(40):
        if await page.locator("tr", has_text="gesendet").count():
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(page.locator("tr", has_text="Terminbestätigung")).to_contain_text("gesendet")
    await expect(page.get_by_role("button", name="Erneut senden")).to_have_count(0)
    assert len(sipgate_server.sent) == 1
    await screenshot(page, "sms_erneut_gesendet")

    await page.locator("tr", has_text="Terminbestätigung").get_by_role("link", name="Anna Müller").click()
    await expect(page.locator("#einwilligung")).to_have_text("erteilt")
    await page.get_by_role("button", name="Einwilligung widerrufen").click()
    await expect(page.locator("#einwilligung")).to_have_text("nicht erteilt")
    await screenshot(page, "patient")
    await page.get_by_role("button", name="Einwilligung eintragen").click()
    await expect(page.locator("#einwilligung")).to_have_text("erteilt")
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    await expect(page.locator("dd", has_text="erteilt")).to_contain_text(f"seit {today:%d.%m.%Y}")

    day = dt.datetime.fromisoformat(slot["start"]).date()
    await page.goto(f"{praxis.url}/tag?datum={day.isoformat()}")
    column = page.locator("section.spalte", has_text="Anna Müller")
    await expect(column).to_contain_text(dt.datetime.fromisoformat(slot["start"]).strftime("%H:%M"))
    await screenshot(page, "tag")


async def test_the_desk_moves_and_then_cancels_an_appointment_from_the_day_page(
    praxis: Praxis, context: BrowserContext
) -> None:
    """Both after a confirmation; the patient page lists the appointment, the caller's own list follows
    the change, the patient is told by SMS and the audit trail names who did it."""
    me = {"conversation_id": "praxis-verlegen", "caller_id": IDENTIFY_DEMO["caller_id"]}
    identified = await ask_tool(praxis, "identify_patient", {**IDENTIFY_DEMO, **me})
    mine = {**me, "patient_ref": identified["patient_ref"]}
    earliest = (dt.date.today() + dt.timedelta(days=5)).strftime("%d.%m.%Y")
    offered = await ask_tool(
        praxis, "find_slots", {**me, "visit_type": "Akutsprechstunde", "earliest": earliest}
    )
    slot = offered["slots"][0]  # type: ignore[index]
    booked = await ask_tool(praxis, "book_appointment", {**mine, "slot_id": slot["slot_id"]})
    assert booked["code"] == "booked"
    appointment_id = booked["appointment"]["appointment_id"]  # type: ignore[index]
    start = dt.datetime.fromisoformat(slot["start"])

    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    await page.goto(f"{praxis.url}/tag?datum={start.date().isoformat()}")
    row = page.locator("li", has=page.locator(f"a[href$='/termine/{appointment_id}/absagen']"))
    await expect(row).to_contain_text(f"{start:%H:%M}")
    await row.get_by_role("link", name="Anna Müller").click()
    await expect(page.locator("#termine")).to_contain_text(f"{start:%d.%m.%Y %H:%M}")
    await screenshot(page, "patient_termine")

    await page.goto(f"{praxis.url}/tag?datum={start.date().isoformat()}")
    await row.get_by_role("link", name="Verlegen").click()
    await expect(page.get_by_role("heading", name="Termin verlegen")).to_be_visible()
    choices = page.get_by_role("radio")
    await expect(choices.first).to_be_checked()
    assert await choices.count() >= 2
    label = await page.locator("fieldset label").nth(1).inner_text()
    await screenshot(page, "termin_verlegen")
    await choices.nth(1).check()
    await page.get_by_role("button", name="Auf die gewählte Zeit verlegen").click()
    await expect(page.get_by_role("heading", name=re.compile("Termine am"))).to_be_visible()
    moved_to = label.split("–")[0].strip()  # "dd.mm.YYYY HH:MM"
    await expect(row).to_contain_text(moved_to[-5:])
    listed = await ask_tool(praxis, "list_appointments", mine)
    ours = [a for a in listed["appointments"] if a["appointment_id"] == appointment_id]  # type: ignore[union-attr]
    assert [f"{dt.datetime.fromisoformat(a['start']):%d.%m.%Y %H:%M}" for a in ours] == [moved_to]

    await row.get_by_role("link", name="Absagen").click()
    await expect(page.get_by_role("heading", name="Termin absagen?")).to_be_visible()
    await expect(page.locator("dl")).to_contain_text("Anna Müller")
    await screenshot(page, "termin_absagen")
    await page.get_by_role("button", name="Termin absagen").click()
    await expect(page.get_by_role("heading", name=re.compile("Termine am"))).to_be_visible()
    await expect(row).to_have_count(0)
    await screenshot(page, "tag_abgesagt")
    listed = await ask_tool(praxis, "list_appointments", mine)
    assert appointment_id not in [a["appointment_id"] for a in listed["appointments"]]  # type: ignore[union-attr]

    await page.get_by_role("link", name="SMS").click()
    for _ in range(40):
        if await page.locator("tr", has_text="Terminabsage").count():
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(page.locator("tr", has_text="Terminabsage")).to_have_count(1)
    await page.locator("tr", has_text="Terminabsage").get_by_role("link", name="Anna Müller").click()
    await page.get_by_role("link", name="Zugriffsprotokoll").click()
    for action in ("termin verlegt", "termin abgesagt"):
        entry = page.locator("tr", has_text=action)
        await expect(entry).to_contain_text("Sabine")
        await expect(entry).to_contain_text(appointment_id)


async def test_system_page_for_admins_only_shows_and_lifts_an_identification_lock(
    praxis: Praxis, context: BrowserContext, browser_context_2: BrowserContext
) -> None:
    for attempt in range(5):  # five wrong birth dates from one number lock that number
        await ask_tool(
            praxis,
            "identify_patient",
            {**IDENTIFY_DEMO, "conversation_id": f"praxis-lock-{attempt}", "caller_id": "+4915799990000",
             "birth_date": f"0{attempt + 1}.01.1990"},
        )  # fmt: skip
    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    await page.get_by_role("link", name="System").click()
    lock = page.locator("tr", has_text="Anrufernummer")
    await expect(lock).to_have_count(1)
    await expect(lock).to_contain_text("5")
    await screenshot(page, "system")
    await lock.get_by_role("button", name="Entsperren").click()
    await expect(page.get_by_text("Keine Sperren.")).to_be_visible()
    unlocked = await ask_tool(
        praxis,
        "identify_patient",
        {**IDENTIFY_DEMO, "conversation_id": "praxis-lock-9", "caller_id": "+4915799990000"},
    )
    assert unlocked["code"] == "identified"

    tom = await browser_context_2.new_page()
    await open_app(praxis, tom, "Tom")
    await expect(tom.get_by_role("link", name="System")).to_have_count(0)
    answer = await tom.goto(praxis.url + "/system")
    assert answer is not None
    assert answer.status == 403


async def test_the_system_page_runs_ignis_doctors_checks_with_their_hints_and_no_secrets(
    praxis: Praxis, context: BrowserContext, browser_context_2: BrowserContext
) -> None:
    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    await page.get_by_role("link", name="System").click()
    await page.get_by_role("link", name="Verbindungen prüfen").click()
    await expect(page.get_by_role("heading", name="Verbindungen prüfen")).to_be_visible(timeout=60_000)
    # sipgate (the fake, with the right token) passes; no ElevenLabs key here fails, with what to do.
    await expect(page.locator("tr", has_text="sipgate token")).to_contain_text("in Ordnung")
    key = page.locator("tr", has_text="ElevenLabs API key")
    await expect(key).to_contain_text("Fehler")
    await expect(key).to_contain_text("IGNIS_ELEVENLABS_API_KEY is not set")
    await expect(key).to_contain_text("run `ignis provision`")
    await expect(page.locator("#ergebnis")).to_contain_text("Prüfungen mit Fehler")
    await screenshot(page, "system_pruefung")
    shown = await page.content()
    for secret in (TOKEN, TOOL_SECRET, WEBHOOK_SECRET, STAFF_TOKEN, METRICS_TOKEN):
        assert secret not in shown

    tom = await browser_context_2.new_page()
    await open_app(praxis, tom, "Tom")
    answer = await tom.goto(praxis.url + "/system/pruefung")
    assert answer is not None
    assert answer.status == 403


async def test_a_dead_letter_is_listed_without_its_content_and_replayed_from_the_system_page(
    praxis: Praxis, context: BrowserContext, nats_url: str
) -> None:
    """What failed every attempt, as `settle` leaves it; "Erneut zustellen" puts it back on its subject
    (its stream's consumer takes it again) and off the list."""
    stream, subject = f"TEST_{uuid.uuid4().hex[:6].upper()}", f"ignis.test.{uuid.uuid4().hex[:6]}"
    await own_stream(nats_url, stream, f"{subject}.>")
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await js.purge_stream(subjects.DEAD_LETTER_STREAM)
    broker = make_broker(nats_url, "staff-app-dead-letter-test")
    await broker.start()
    try:
        payload = json.dumps({"transcript": "Anna Müller hat Husten"}).encode()
        await js.publish(f"{subject}.call", payload, stream=stream)
        consumer = await js.pull_subscribe(
            f"{subject}.call", durable=None, stream=stream, config=ConsumerConfig(inactive_threshold=300)
        )
        [delivered] = await consumer.fetch(1, timeout=5)

        async def fail() -> None:
            raise RuntimeError("the database is away")

        await settle(NatsMessage(raw_message=delivered, body=delivered.data), broker, fail, max_deliveries=1)

        page = await context.new_page()
        await open_app(praxis, page, "Sabine")
        await page.get_by_role("link", name="System").click()
        letter = page.locator("tr", has_text=f"{subject}.call")
        await expect(letter).to_contain_text("RuntimeError")
        assert "Husten" not in await page.content()
        await screenshot(page, "system_dead_letter")
        await letter.get_by_role("button", name="Erneut zustellen").click()
        await expect(page.get_by_role("heading", name="System", exact=True)).to_be_visible()
        await expect(letter).to_have_count(0)
        [again] = await consumer.fetch(1, timeout=5)
        assert again.data == payload
        assert (await js.stream_info(subjects.DEAD_LETTER_STREAM)).state.messages == 0
    finally:
        await broker.stop()
        await connection.close()


async def test_an_admin_erases_a_patient_after_a_confirmation_naming_what_goes(
    praxis: Praxis, context: BrowserContext, browser_context_2: BrowserContext
) -> None:
    me = {"conversation_id": "praxis-erase", "caller_id": "+4917611122233"}
    identified = await ask_tool(
        praxis, "identify_patient", {**me, "last_name": "Yılmaz", "birth_date": "15.01.1971"}
    )
    assert identified["code"] == "identified"
    request = {**me, "kind": "rueckruf", "details": "Bitte Laborwerte besprechen"}
    created = await ask_tool(praxis, "create_request", {**request, "patient_ref": identified["patient_ref"]})
    assert created["code"] == "request_created"

    tom = await browser_context_2.new_page()
    await open_app(praxis, tom, "Tom")
    await tom.get_by_role("link", name="Mehmet Yılmaz").click()
    await expect(tom.get_by_role("heading", name="Mehmet Yılmaz")).to_be_visible()
    await expect(tom.get_by_role("link", name="Patient löschen …")).to_have_count(0)
    patient_url = tom.url
    refused = await tom.goto(patient_url + "/loeschen")
    assert refused is not None
    assert refused.status == 403

    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    await page.goto(patient_url)
    await page.get_by_role("link", name="Patient löschen …").click()
    await expect(page.get_by_role("heading", name="Mehmet Yılmaz endgültig löschen?")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("alle Anfragen (1 offen oder in Arbeit)")
    await expect(page.locator("main")).to_contain_text("Transkripten")
    await screenshot(page, "patient_loeschen")
    await page.get_by_role("button", name="Mehmet Yılmaz endgültig löschen").click()
    await expect(page.get_by_role("heading", name="Patient gelöscht")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("1 Stammdatensatz")
    await expect(page.locator("main")).to_contain_text("1 Anfragen")
    await screenshot(page, "patient_geloescht")
    gone = await page.goto(patient_url)
    assert gone is not None
    assert gone.status == 404
    await page.goto(praxis.url + "/")
    await expect(page.get_by_text("Bitte Laborwerte besprechen")).to_have_count(0)


async def test_csrf_expiry_sign_out_and_lock_out_are_refused(praxis: Praxis, context: BrowserContext) -> None:
    page = await context.new_page()
    await open_app(praxis, page, "Sabine")
    await page.keyboard.press("Tab")  # keyboard first: the skip link, then the navigation
    await expect(page.get_by_role("link", name="Zum Inhalt springen")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Eingang")).to_be_focused()
    await new_request(praxis, "praxis-csrf", "Bitte Befund faxen", urgent=False)
    await expect(page.get_by_text("Bitte Befund faxen")).to_be_visible(timeout=WAIT_MS)
    action = (
        await page.locator("#inbox-rows tr", has_text="Bitte Befund faxen")
        .locator("form")
        .get_attribute("action")
    )
    assert action
    # The session cookie alone (as a forged form on another site would send it) changes nothing.
    for form in ({}, {"csrf": "geraten"}):
        refused = await page.request.post(praxis.running.base_url + action, form=form)
        assert refused.status == 403
    await page.reload()
    await expect(page.locator("#inbox-rows tr", has_text="Bitte Befund faxen")).to_contain_text("Übernehmen")
    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["praxis_sitzung"]["httpOnly"]
    assert cookies["praxis_sitzung"]["sameSite"] == "Strict"

    # A session left idle past its time is over: the next page is the sign-in form.
    engine = create_async_engine(praxis.database_url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE staff_app.session SET last_seen_at = now() - interval '1 day'"))
    await engine.dispose()
    await page.reload()
    await expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    await screenshot(page, "anmelden")

    # Signing out ends the session: going back shows the sign-in form again.
    await sign_in(page, "Sabine")
    await page.get_by_role("button", name="Abmelden").click()
    await expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    await page.goto(praxis.url + "/anrufe")
    await expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()

    # Five wrong passwords lock the account: then even the right one is refused for a while.
    for _ in range(5):
        await sign_in(page, "Tom", "falsch-falsch")
    await sign_in(page, "Tom")
    await expect(page.get_by_role("alert")).to_contain_text("gesperrt")
