"""StoreService on a real SQLite file: off the GUI thread, in order, errors reported."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatapp.services.store_service import Changed, StoreService, StoreUnavailableError
from chatapp.storage import ChatStore, Conversation, NotFoundError, ReadOnlyError
from chatapp.storage.schema import SCHEMA_VERSION


def test_the_store_opens_and_works_on_the_worker_never_the_gui_thread(
        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    opened_on: list[threading.Thread] = []
    original = ChatStore.__init__

    def spy(self: ChatStore, *args: object, **kwargs: object) -> None:
        opened_on.append(threading.current_thread())
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ChatStore, "__init__", spy)
    svc = StoreService()
    try:
        with qtbot.waitSignal(svc.sig_opened, timeout=10_000) as opened:
            pass
        assert opened.args == [None]  # a new database: nothing to tell the user
        assert svc.is_open and not svc.read_only
        assert len(opened_on) == 1 and opened_on[0] is not threading.main_thread()

        threads: dict[str, threading.Thread] = {}

        def op(store: ChatStore) -> int:
            threads["fn"] = threading.current_thread()
            return len(store.list_conversations())

        with qtbot.waitCallback() as done:
            svc.run(op, lambda n: (threads.setdefault("done", threading.current_thread()),
                                   done(n)))
        done.assert_called_with(0)
        assert threads["fn"] is opened_on[0]
        assert threads["done"] is threading.main_thread()
    finally:
        svc.close()


def test_write_reports_what_changed_then_calls_back(qtbot: QtBot,
                                                    service: StoreService) -> None:
    order: list[str] = []
    service.sig_changed.connect(lambda changed: order.append("changed"))
    with qtbot.waitCallback() as done, qtbot.waitSignal(service.sig_changed) as changed:
        service.write(lambda s: s.create_conversation().id, Changed(lists=True),
                      lambda cid: (order.append("done"), done(cid)))
    assert changed.args == [Changed(frozenset(), lists=True)]
    assert order == ["changed", "done"]
    cid = done.args[0]
    change = Changed(frozenset({cid}), lists=True)
    assert change.concerns(cid) and not change.concerns("other") and not change.concerns(None)

    # Operations run in the order asked for: this read sees the rename before it.
    service.write(lambda s: s.rename(cid, "Renamed"), Changed(frozenset({cid}), True))
    with qtbot.waitCallback() as got:
        service.run(lambda s: s.get_conversation(cid), got)
    found = got.args[0]
    assert isinstance(found, Conversation) and found.title == "Renamed"


def test_an_error_reaches_on_error_or_sig_error_and_the_service_keeps_working(
        qtbot: QtBot, service: StoreService) -> None:
    with qtbot.waitCallback() as failed:
        service.run(lambda s: s.get_conversation("missing"), on_error=failed)
    assert isinstance(failed.args[0], NotFoundError)

    def boom(store: ChatStore) -> None:
        raise RuntimeError("disk on fire")

    with qtbot.waitSignal(service.sig_error) as error:
        service.run(boom)
    assert "disk on fire" in error.args[0]

    with qtbot.waitCallback() as done:
        service.run(lambda s: len(s.list_conversations()), done)
    done.assert_called_with(0)


def test_a_failed_write_saves_nothing_and_reports_no_change(qtbot: QtBot,
                                                            service: StoreService) -> None:
    changes: list[Changed] = []
    service.sig_changed.connect(changes.append)

    def half_done(store: ChatStore) -> None:
        store.create_conversation()
        raise ValueError("second step failed")

    with qtbot.waitCallback() as failed:
        service.write(half_done, Changed(lists=True), on_error=failed)
    assert isinstance(failed.args[0], ValueError)
    with qtbot.waitCallback() as listed:
        service.run(lambda s: s.list_conversations(), listed)
    assert listed.args[0] == [] and changes == []


def test_close_finishes_queued_work_then_ignores_more(qtbot: QtBot, data_dir: Path) -> None:
    svc = StoreService()
    for _ in range(5):
        svc.write(lambda s: s.create_conversation(), Changed(lists=True))
    svc.close()
    svc.close()  # idempotent
    svc.run(lambda s: s.create_conversation())  # after close: ignored, no error
    with ChatStore(data_dir / "chats.db") as store:
        assert len(store.list_conversations()) == 5


def test_an_unopenable_store_reports_once_and_fails_each_operation(qtbot: QtBot) -> None:
    def broken() -> ChatStore:
        raise OSError("no space left on device")

    svc = StoreService(opener=broken)
    try:
        with qtbot.waitSignal(svc.sig_error) as error:
            pass
        assert "no space left on device" in error.args[0] and not svc.is_open
        with qtbot.waitCallback() as failed:
            svc.run(lambda s: s.list_conversations(), on_error=failed)
        assert isinstance(failed.args[0], StoreUnavailableError)
    finally:
        svc.close()


def test_a_newer_database_opens_read_only_with_a_notice(qtbot: QtBot, data_dir: Path) -> None:
    ChatStore.open_default().close()
    with sqlite3.connect(data_dir / "chats.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    svc = StoreService()
    try:
        with qtbot.waitSignal(svc.sig_opened) as opened:
            pass
        assert isinstance(opened.args[0], str) and opened.args[0]
        assert svc.read_only
        with qtbot.waitCallback() as failed:
            svc.write(lambda s: s.create_conversation(), Changed(lists=True), on_error=failed)
        assert isinstance(failed.args[0], ReadOnlyError)
    finally:
        svc.close()
