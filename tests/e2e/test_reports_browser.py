from playwright.sync_api import expect

from tests.e2e.helpers import log_in, open_menu_item
from tests.helpers import PASSWORD


def test_beheerder_opens_personen_met_mfa_through_the_menu(page, admin_user, linked_user):
    log_in(page, "beheerder", PASSWORD)
    open_menu_item(page, "Selecties", "Rechtenstructuur")
    expect(
        page.get_by_role("cell", name="Overzicht van personen die MFA geconfigureerd hebben.")
    ).to_be_visible()
    page.get_by_role("link", name="Personen met MFA").click()
    expect(page.get_by_test_id("rollout")).to_have_text("1 van 2 systeemgebruikers gekoppeld (50%)")
    report = page.get_by_test_id("report")
    for header in ("Informele_naam", "Sorteer_naam", "MFA_aangemaakt", "MFA_gewijzigd"):
        expect(report.get_by_role("columnheader", name=header)).to_be_visible()
    expect(report.get_by_role("row", name="Rob de Wit")).to_contain_text("25-11-2026 10:59")
    page.get_by_role("link", name="Niet gekoppeld", exact=True).click()
    expect(report.get_by_role("row")).to_have_count(2)  # header and the beheerder
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporteer CSV").click()
    assert download.value.suggested_filename.startswith("personen-met-mfa-")
    content = download.value.path().read_text(encoding="utf-8-sig")
    assert "Sabrina Boetzkes" in content and "Rob de Wit" not in content
