"""The model library: the model folder, imported files, split models, broken files, facts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from chatapp.models.library import (
    LibraryError,
    file_facts,
    find_model,
    import_model,
    list_models,
    remove_model,
)
from chatapp.paths import models_dir

STARTER_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def _link(src: Path, dst: Path) -> Path:
    """A hard link where possible (the starter model is 98 MB), a copy otherwise."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy(src, dst)
    return dst


def test_folder_models_are_listed_with_their_facts(starter_model: Path) -> None:
    _link(starter_model, models_dir() / starter_model.name)
    (models_dir() / "broken.gguf").write_bytes(b"GGUF" + b"\x00" * 10)
    (models_dir() / "notes.txt").write_text("not a model")
    partial = models_dir() / ".partial"
    partial.mkdir()
    (partial / "abc.0.part").write_bytes(b"GGUF")

    entries = list_models()
    assert [e.name for e in entries] == ["broken.gguf", starter_model.name]
    broken, starter = entries
    assert not broken.usable and broken.info is None and broken.problem
    assert starter.usable and starter.problem is None and starter.origin == "folder"
    assert starter.info is not None
    assert starter.info.architecture == "llama"
    assert starter.info.quantization == "Q4_1"
    assert starter.info.context_length == 8192
    assert starter.size == starter_model.stat().st_size
    row = starter.to_dict()
    assert row["parameters"] == starter.info.parameter_count and row["chat_template"] is True


def test_split_model_is_one_entry_and_names_missing_parts(small_gguf: Path) -> None:
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for i in (1, 2, 3):
        shutil.copy(small_gguf, folder / f"tiny-0000{i}-of-00003.gguf")
    entries = list_models()
    assert [e.name for e in entries] == ["tiny-00001-of-00003.gguf"]
    assert len(entries[0].parts) == 3 and entries[0].missing_parts == 0
    assert entries[0].size == 3 * small_gguf.stat().st_size

    (folder / "tiny-00002-of-00003.gguf").unlink()
    entry = list_models()[0]
    assert entry.missing_parts == 1 and not entry.usable
    assert "1 of the model's 3 files are missing" in (entry.problem or "")


def test_import_references_the_file_and_refuses_broken_ones(
        small_gguf: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    model = shutil.copy(small_gguf, elsewhere / "mine.gguf")
    entry = import_model(Path(model))
    assert entry.origin == "imported" and entry.usable
    assert [e.path for e in list_models()] == [Path(model).resolve()]
    assert import_model(Path(model)).path == entry.path  # twice: still one entry
    assert len(list_models()) == 1

    bad = elsewhere / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    with pytest.raises(LibraryError, match="not a usable model file"):
        import_model(bad)
    with pytest.raises(LibraryError, match="not a GGUF model file"):
        import_model(Path(shutil.copy(small_gguf, elsewhere / "model.bin")))
    with pytest.raises(LibraryError, match="no file"):
        import_model(elsewhere / "absent.gguf")
    assert len(list_models()) == 1

    # Removing an imported model forgets it and keeps the user's file.
    remove_model(find_model("mine.gguf"))
    assert list_models() == [] and Path(model).is_file()


def test_imported_file_that_went_away_is_listed_with_a_problem(
        small_gguf: Path, tmp_path: Path) -> None:
    model = Path(shutil.copy(small_gguf, tmp_path / "gone.gguf"))
    import_model(model)
    model.unlink()
    (entry,) = list_models()
    assert not entry.usable and entry.problem == "the file is no longer there"
    remove_model(entry)
    assert list_models() == []


def test_remove_deletes_folder_files_and_their_download_record(small_gguf: Path) -> None:
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for i in (1, 2):
        shutil.copy(small_gguf, folder / f"two-0000{i}-of-00002.gguf")
    shutil.copy(small_gguf, folder / "keep.gguf")
    (folder / ".sources.json").write_text(json.dumps({
        "two-00001-of-00002.gguf": {"repo_id": "a/b", "revision": "c" * 40},
        "keep.gguf": {"repo_id": "a/k", "revision": "d" * 40}}))
    entry = find_model("two-00001-of-00002.gguf")
    assert entry.source == {"repo_id": "a/b", "revision": "c" * 40}
    remove_model(entry)
    assert sorted(p.name for p in folder.glob("*.gguf")) == ["keep.gguf"]
    assert json.loads((folder / ".sources.json").read_text()) == {
        "keep.gguf": {"repo_id": "a/k", "revision": "d" * 40}}
    with pytest.raises(LibraryError, match="No model called"):
        find_model("two-00001-of-00002.gguf")


def test_file_facts_hash_and_support_check_the_real_files(
        starter_model: Path, tmp_path: Path) -> None:
    from tests.gguf_tools import rewrite_gguf

    _link(starter_model, models_dir() / starter_model.name)
    rewrite_gguf(starter_model, models_dir() / "alien.gguf",
                 {"general.architecture": "notarealarch"})
    entries = list_models()
    facts = file_facts(entries)
    by_name = {e.name: facts[e.path] for e in entries}
    starter = by_name[starter_model.name]
    assert starter.sha256 == STARTER_SHA256 and starter.support == "ok"
    alien = by_name["alien.gguf"]
    assert alien.support == "unsupported_architecture"
    assert "notarealarch" in alien.support_message
    assert alien.sha256 is not None and len(alien.sha256) == 64
