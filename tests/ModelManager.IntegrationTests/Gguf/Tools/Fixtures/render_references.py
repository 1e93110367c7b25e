#!/usr/bin/env python3
"""Renders every conversation in conversations.json with every *.jinja template here into expected/.

Reproduces the environment of Hugging Face transformers' apply_chat_template (transformers
4.4x, utils/chat_template_utils.py): an ImmutableSandboxedEnvironment with trim_blocks and
lstrip_blocks, the loopcontrols extension, raise_exception, a tojson filter that is json.dumps
with ensure_ascii=False, and strftime_now; add_generation_prompt=True; tools as
{"type": "function", "function": {name, description, parameters}} (or None when a conversation
offers none). strftime_now is fixed to the date in conversations.json ("01 Dec 2026").
A template that raises writes "!error: <message>" instead of a rendering.

The templates are third-party template code and are not committed (see .gitignore); put them here
under these names to run this script and the C# ToolCallFormatRenderTests (which skip locally, and
fail under CI, without them):
  meta-llama-Llama-3.2-3B-Instruct.jinja       llama.cpp models/templates/ (ggerganov/llama.cpp 7b5e0803)
  mistralai-Mistral-Nemo-Instruct-2407.jinja   llama.cpp models/templates/ (ggerganov/llama.cpp 7b5e0803)
  Qwen-Qwen2.5-7B-Instruct.jinja               chat_template of Qwen/Qwen2.5-7B-Instruct's tokenizer_config.json
                                               (the file llama.cpp keeps under the same name, models/templates/)
sha256 of the files these references were rendered from (ToolFixtures.Templates checks them):
  5816fce10444e03c2e9ee1ef8a4a1ea61ae7e69e438613f3b17b69d0426223a4  meta-llama-Llama-3.2-3B-Instruct.jinja
  e4676cb56dffea7782fd3e2b577cfaf1e123537e6ef49b3ec7caa6c095c62272  mistralai-Mistral-Nemo-Instruct-2407.jinja
  cd8e9439f0570856fd70470bf8889ebd8b5d1107207f67a5efb46e342330527f  Qwen-Qwen2.5-7B-Instruct.jinja
Usage: python3 render_references.py   (needs jinja2; tested with 3.1.6)
"""
import json
import os
from datetime import datetime

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # As transformers defines it: Jinja's own tojson escapes HTML characters.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise TemplateError(message)


def environment(date):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    fixed = datetime.strptime(date, "%d %b %Y")
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: fixed.strftime(fmt)
    return env


def hf_messages(messages):
    out = []
    for m in messages:
        if m["role"] == "assistant" and "calls" in m:
            out.append({
                "role": "assistant",
                "content": m.get("text"),
                "tool_calls": [
                    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in m["calls"]
                ],
            })
        elif m["role"] == "tool":
            out.append({"role": "tool", "tool_call_id": m["callId"], "content": m["result"]})
        else:
            out.append({"role": m["role"], "content": m["text"]})
    return out


def main():
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        spec = json.load(f)
    tools = [{"type": "function", "function": {"name": t["name"], "description": t["description"], "parameters": t["parameters"]}}
             for t in spec["tools"]]
    env = environment(spec["date"])
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for name in sorted(os.listdir(HERE)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            template = env.from_string(f.read())
        for conversation in spec["conversations"]:
            try:
                text = template.render(
                    messages=hf_messages(conversation["messages"]),
                    tools=tools if conversation["tools"] else None,
                    add_generation_prompt=True,
                    bos_token=spec["bos_token"],
                    eos_token=spec["eos_token"])
            except TemplateError as e:
                text = "!error: " + str(e)
            target = os.path.join(HERE, "expected", name[:-len(".jinja")] + "." + conversation["name"] + ".txt")
            with open(target, "w", encoding="utf-8", newline="") as f:
                f.write(text)


if __name__ == "__main__":
    main()
