"""The simulator's chat and Batch API answers, read with the official OpenAI Python SDK.

Every answer is validated against the SDK's own pydantic types (``model_validate``: required
fields, types, literals), through both the Azure client (dated api-version URLs) and the OpenAI
client on Azure's v1 surface. Usage: openai_sdk_check.py ENDPOINT. Prints one line per check; any
mismatch raises.
"""

import io
import json
import sys
import time

from openai import AzureOpenAI, OpenAI
from openai.types import Batch, FileDeleted, FileObject
from openai.types.chat import ChatCompletion

# Azure documents `pending` before `processed`; the SDK's literal knows OpenAI's values only.
AZURE_FILE_STATUSES = {"uploaded", "pending", "running", "processed", "error", "deleting", "deleted"}


def file_object(raw):
    data = dict(raw)
    assert data["status"] in AZURE_FILE_STATUSES, data["status"]
    if data["status"] not in ("uploaded", "processed", "error"):
        data["status"] = "uploaded"
    return FileObject.model_validate(data)


def check(client, deployment, shape):
    chat = client.chat.completions.with_raw_response.create(
        model=deployment, messages=[{"role": "user", "content": "Hello there"}], max_tokens=20
    )
    completion = ChatCompletion.model_validate(chat.http_response.json())
    assert completion.choices[0].message.content, completion
    print(f"{shape}: chat.completion parses ({completion.usage.prompt_tokens} prompt tokens)")

    lines = [
        {
            "custom_id": f"{shape}-{index}",
            "method": "POST",
            "url": "/chat/completions",
            "body": {
                "model": f"{deployment}-batch",
                "messages": [{"role": "user", "content": f"Line {index} of the SDK check"}],
                "max_tokens": 20,
            },
        }
        for index in range(3)
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    made = []
    for name in ("first.jsonl", "second.jsonl"):
        upload = client.files.with_raw_response.create(file=(name, io.BytesIO(content)), purpose="batch")
        uploaded = file_object(upload.http_response.json())
        while True:
            current = file_object(client.files.with_raw_response.retrieve(uploaded.id).http_response.json())
            if current.status == "processed":
                break
            time.sleep(0.05)
        made.append(uploaded.id)
    print(f"{shape}: files parse ({len(made)} uploaded, processed)")

    created = client.batches.with_raw_response.create(
        input_file_id=made[0], endpoint="/chat/completions", completion_window="24h", metadata={"sluice_batch": shape}
    )
    batch = Batch.model_validate(created.http_response.json())
    assert batch.metadata == {"sluice_batch": shape}, batch.metadata
    second = Batch.model_validate(
        client.batches.with_raw_response.create(
            input_file_id=made[1], endpoint="/chat/completions", completion_window="24h"
        ).http_response.json()
    )
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(0.05)
        batch = Batch.model_validate(client.batches.with_raw_response.retrieve(batch.id).http_response.json())
    assert batch.status == "completed", (batch.status, batch.errors)
    assert batch.request_counts.completed == 3, batch.request_counts
    print(f"{shape}: batch parses through its life ({batch.status}, {batch.request_counts.completed} lines)")

    output = client.files.content(batch.output_file_id).content.decode()
    seen = set()
    for line in output.splitlines():
        item = json.loads(line)
        seen.add(item["custom_id"])
        ChatCompletion.model_validate(item["response"]["body"])
    assert seen == {line["custom_id"] for line in lines}, seen
    print(f"{shape}: output lines' bodies parse as chat.completion")

    cancelled = Batch.model_validate(client.batches.with_raw_response.cancel(second.id).http_response.json())
    assert cancelled.status in ("cancelling", "cancelled", "completed"), cancelled.status
    # The SDK's pager walks every page of one item each.
    listed = [item.id for item in client.batches.list(limit=1)]
    assert batch.id in listed and second.id in listed and len(listed) == len(set(listed)), listed
    page = client.batches.with_raw_response.list(limit=1).http_response.json()
    assert page["object"] == "list" and page["has_more"] is True and len(page["data"]) == 1, page
    for item in page["data"]:
        Batch.model_validate(item)
    files = [item.id for item in client.files.list(purpose="batch")]
    assert set(made).issubset(files), files
    print(f"{shape}: lists page ({len(listed)} batches, {len(files)} files)")

    for file_id in made:
        deleted = FileDeleted.model_validate(client.files.with_raw_response.delete(file_id).http_response.json())
        assert deleted.deleted, deleted
    print(f"{shape}: files delete")


def main():
    endpoint = sys.argv[1].rstrip("/")
    check(AzureOpenAI(azure_endpoint=endpoint, api_key="sim-key", api_version="2024-10-21"), "sim", "azure")
    check(OpenAI(base_url=endpoint + "/openai/v1/", api_key="sim-key"), "sim", "azure-v1")
    print("ok")


if __name__ == "__main__":
    main()
