"""The field window resumes a draft with the form version it was started with."""

from __future__ import annotations

from fieldscreen.exchange.sync import installed_pack
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.services import load_services
from fieldscreen.ui.field.window import FieldWindow
from tests.conftest import SHIPPED_FORM, SHIPPED_SERVICES
from tests.exchange_helpers import PASSPHRASE, PROFILE, make_pack, make_world, shipped_form
from tests.unit.store.test_faults_form_update import NEW, OLD, _new_version, _partial


def test_an_old_version_draft_resumes_with_its_own_form_after_a_pack_update(qtbot, tmp_path):
    world = make_world(tmp_path)
    form = shipped_form()
    draft = world.field.records.save_draft(form.id, form.version, _partial()).id
    new_pack = make_pack(world.coordinator, relay=world.relay, clock=world.clock,
                         form_paths=[_new_version(tmp_path)])
    world.field.install_pack(new_pack, world.recipient)
    assert installed_pack(world.field).form().version == NEW
    world.close()

    window = FieldWindow(data_dir=world.root / "field" / "data", profile_name=PROFILE,
                         checklist=lambda: (load_form(SHIPPED_FORM),
                                            load_services(SHIPPED_SERVICES)))
    qtbot.addWidget(window)
    window.show()
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    window.unlock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: window.profile is not None, timeout=30_000)
    assert window.form is not None and window.form.version == NEW
    window._resume_draft(draft)
    qtbot.waitUntil(lambda: window.session is not None, timeout=20_000)
    assert window.session.form.version == OLD
    assert window.session.answers_json() == _partial()
    window.close()
