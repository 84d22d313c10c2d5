#!/usr/bin/env python3
"""Generates reference fixtures for the tokenizer tests with tiktoken (run once; output committed).

Usage: pip install tiktoken
       TIKTOKEN_CACHE_DIR=... python3 Scripts/generate-tokenizer-fixtures.py

Writes Tests/TokenizerTests/Fixtures/long_pieces.jsonl: texts given as a repeated unit
({"unit", "repeat", "prefix", "suffix"}) with tiktoken's ids for each encoding, and
chat_estimates.jsonl: chat requests with the prompt-token estimate of OpenAI's cookbook function
num_tokens_from_messages (3 per message, 1 per name, 3 for the reply priming).
"""
import json
import os

import tiktoken

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "TokenizerTests", "Fixtures")
ENCODINGS = ["o200k_base", "cl100k_base"]

LONG = [
    {"unit": "x", "repeat": 100_000, "prefix": "", "suffix": ""},
    {"unit": "_", "repeat": 50_000, "prefix": "", "suffix": ""},
    {"unit": " ", "repeat": 100_000, "prefix": "a", "suffix": "b"},
    {"unit": "\n", "repeat": 30_000, "prefix": "", "suffix": "end"},
    {"unit": "ab", "repeat": 40_000, "prefix": "", "suffix": ""},
    {"unit": "日本", "repeat": 20_000, "prefix": "", "suffix": ""},
    {"unit": "a\u0301", "repeat": 20_000, "prefix": "", "suffix": ""},
    {"unit": "1", "repeat": 30_000, "prefix": "", "suffix": ""},
    {"unit": "\U0001F468\u200D\U0001F469\u200D\U0001F467", "repeat": 5_000, "prefix": "", "suffix": ""},
    {"unit": "Zz", "repeat": 25_000, "prefix": "", "suffix": "'s"},
    {"unit": "/*-", "repeat": 20_000, "prefix": " ", "suffix": "\n\n"},
]

CHATS = [
    {"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
        {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
        {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
        {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
        {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
        {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
    ]},
    {"model": "gpt-35-turbo", "messages": [
        {"role": "system", "content": "Summarize the document in three sentences."},
        {"role": "user", "content": "Die Vertragsparteien vereinbaren eine Laufzeit von 24 Monaten.\n\n## Kündigung\nEine Kündigung ist mit drei Monaten Frist möglich."},
    ]},
    {"model": "gpt-4.1-mini", "messages": [
        {"role": "developer", "content": "Reply with JSON only."},
        {"role": "user", "name": "analyst", "content": "Extract the parties: ACME Corp. and Globex GmbH signed on 2026-03-01."},
        {"role": "assistant", "content": "{\"parties\": [\"ACME Corp.\", \"Globex GmbH\"]}"},
        {"role": "user", "content": "<|endoftext|> is text here, not a control token."},
    ]},
]


def cookbook_estimate(messages, encoding):
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(encoding.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def main():
    with open(os.path.join(OUT, "long_pieces.jsonl"), "w") as out:
        for case in LONG:
            text = case["prefix"] + case["unit"] * case["repeat"] + case["suffix"]
            row = dict(case)
            for name in ENCODINGS:
                row[name] = tiktoken.get_encoding(name).encode_ordinary(text)
            out.write(json.dumps(row) + "\n")
    with open(os.path.join(OUT, "chat_estimates.jsonl"), "w") as out:
        for chat in CHATS:
            encoding = tiktoken.encoding_for_model(chat["model"])
            row = dict(chat, encoding=encoding.name, prompt_tokens=cookbook_estimate(chat["messages"], encoding))
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
