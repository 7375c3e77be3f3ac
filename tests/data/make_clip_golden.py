"""Writes clip_golden.json: CLIP token ids for test prompts, from the reference tokenizer in the
open-clip-torch wheel (MIT). Run once, from the repository root, in a venv that has torch:

    .venv/bin/pip install --no-deps open-clip-torch==3.3.0 && .venv/bin/pip install ftfy regex numpy
    .venv/bin/python tests/data/make_clip_golden.py

The module is loaded from its file, so open_clip's package imports (timm and so on) are not needed.
"""
import importlib.util
import json
import os

package = importlib.util.find_spec("open_clip").submodule_search_locations[0]
spec = importlib.util.spec_from_file_location("clip_tokenizer", os.path.join(package, "tokenizer.py"))

PROMPTS = [
    "a photograph of an astronaut riding a horse",
    "A Cat, sitting on a MAT!!",
    "portrait of a woman, oil on canvas, by John Singer Sargent, trending on artstation, 8k",
    "don't stop; we're here, they'll see it's done",
    "(masterpiece:1.2), best quality, ((sharp focus)), [blurry]",
    "tom &amp;amp; jerry &lt;3",
    "  lots   of\twhitespace\n\nhere  ",
    "numbers 1234567 and 3.14159 and 2nd",
    "café naïve résumé façade",
    "東京の夜景、ネオン",
    "emoji 🐱🚀 and symbols ©®™ ∑∫",
    "Ελληνικά κείμενα και ΣΟΦΙΑ",
    "<start_of_text> injected <end_of_text> tokens",
    "a-b_c/d\\e@f#g$h%i^j&k*l",
    "",
    " ".join(["token"] * 90),
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
]


def main():
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tokenizer = module.SimpleTokenizer()
    cases = []
    for text in PROMPTS:
        cases.append({
            "text": text,
            "encode": tokenizer.encode(text),
            "tokenize": tokenizer([text])[0].tolist(),
        })
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip_golden.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
