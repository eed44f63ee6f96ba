"""Presets and settings persist across reopen; built-in presets cannot be changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatapp.storage import ChatStore, ConflictError, NotFoundError
from chatapp.storage.schema import BUILTIN_PRESETS


def test_builtins_are_there_from_the_start(store: ChatStore) -> None:
    presets = store.presets()
    assert [(p.name, p.builtin) for p in presets] == [
        ("Precise", True), ("Balanced", True), ("Creative", True)]
    assert presets[2].sampling == {"temperature": 1.1, "top_k": 100, "top_p": 0.98,
                                   "min_p": 0.02, "repeat_penalty": 1.05}


def test_user_presets_and_settings_persist(db_path: Path) -> None:
    with ChatStore(db_path) as store:
        store.save_preset("Mine", {"temperature": 0.3})
        store.save_preset("Other", {"temperature": 0.9})
        store.save_preset("Mine", {"temperature": 0.4})  # replaces
        store.rename_preset("Other", "Renamed")
        store.set_setting("defaults.sampling", {"temperature": 0.5, "top_k": 10})
        store.set_setting("ui.font_size", 13)
        store.set_setting("ui.theme", None)
    with ChatStore(db_path) as store:
        assert [(p.name, p.sampling) for p in store.presets() if not p.builtin] == [
            ("Mine", {"temperature": 0.4}), ("Renamed", {"temperature": 0.9})]
        assert store.get_setting("ui.font_size") == 13
        assert store.get_setting("ui.theme", "dark") is None  # stored None is a value
        assert store.get_setting("missing", "default") == "default"
        c = store.create_conversation()
        assert c.sampling == {"temperature": 0.5, "top_k": 10}
        store.delete_preset("Mine")
        assert [p.name for p in store.presets() if not p.builtin] == ["Renamed"]


def test_builtins_cannot_be_deleted_renamed_or_changed(store: ChatStore) -> None:
    for action in (lambda: store.delete_preset("Balanced"),
                   lambda: store.rename_preset("Precise", "Mine"),
                   lambda: store.save_preset("Creative", {"temperature": 2.0})):
        with pytest.raises(ConflictError, match="built-in"):
            action()
    assert [p.name for p in store.presets()] == list(BUILTIN_PRESETS)


def test_preset_mistakes_are_reported(store: ChatStore) -> None:
    store.save_preset("A", {"temperature": 0.1})
    store.save_preset("B", {"temperature": 0.2})
    with pytest.raises(ConflictError, match="exists"):
        store.rename_preset("A", "B")
    with pytest.raises(ConflictError, match="exists"):
        store.rename_preset("A", "Balanced")
    with pytest.raises(NotFoundError):
        store.delete_preset("nope")
    with pytest.raises(NotFoundError):
        store.rename_preset("nope", "C")
    with pytest.raises(ValueError, match="empty"):
        store.save_preset("  ", {})
    with pytest.raises(ValueError, match="JSON"):
        store.save_preset("C", {"t": float("nan")})
    with pytest.raises(ValueError, match="JSON"):
        store.set_setting("k", {1, 2})


def test_new_conversation_defaults_to_balanced(store: ChatStore) -> None:
    assert store.create_conversation().sampling == BUILTIN_PRESETS["Balanced"]
