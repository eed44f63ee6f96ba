"""Write GGUF variants of a real model for tests (gguf's writer; never used as a safety gate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np


def rewrite_gguf(src: Path, dst: Path, overrides: dict[str, Any]) -> Path:
    """Copy `src` to `dst` with some metadata values replaced (tensors unchanged).

    Values in `overrides` replace keys of the same name, keeping their GGUF type; a key that
    is absent is added as a string or uint32.
    """
    reader = gguf.GGUFReader(src)
    arch = str(bytes(reader.fields["general.architecture"].parts[-1]), "utf-8")
    writer = gguf.GGUFWriter(dst, arch)
    done: set[str] = set()
    for field in reader.fields.values():
        name = field.name
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vtype = field.types[0]
        if name in overrides:
            value = overrides[name]
            done.add(name)
        elif vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]) for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_array(name, value) if not value or sub == gguf.GGUFValueType.STRING \
                else writer.add_key_value(name, value, vtype, sub_type=sub)
            continue
        elif vtype == gguf.GGUFValueType.STRING:
            value = bytes(field.parts[-1]).decode("utf-8")
        else:
            value = field.parts[-1].tolist()[0]
        writer.add_key_value(name, value, vtype)
    for name, value in overrides.items():
        if name not in done:
            if isinstance(value, str):
                writer.add_string(name, value)
            else:
                writer.add_uint32(name, int(value))
    for t in reader.tensors:
        # The reader's data already has the writer's (byte) shape, quantized or not.
        writer.add_tensor(t.name, np.asarray(t.data), raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst
