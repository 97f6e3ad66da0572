"""The runner's mapping as a plain Python csv + json script: the peer in `bench/run.ts`.

Reads the opportunities CSV, renames the columns, reformats `Close Date` from dd-MMM-yyyy to
yyyy-MM-dd, parses `Amount` as a number, adds `source_system: crm`, skips rows without an
`Opportunity ID` (the runner rejects those), and serialises each batch of 5,000 rows as a JSON
array the way the runner does (compact separators, whole numbers without ".0"), then discards it.

Usage: python3 bench/transform.py <file.csv> [--dump N]
  prints one JSON line {"read": ..., "sent": ..., "bytes": ...}; with --dump N, the first N rows
  sent, as a JSON array (for the check against the runner's output).
"""

import csv
import json
import sys

MONTHS = {
    m: f"{i + 1:02d}"
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
BATCH = 5000


def close_date(text):
    """dd-MMM-yyyy -> yyyy-MM-dd; None when it does not read."""
    day, month, year = text.strip().split("-")
    return f"{year}-{MONTHS[month.lower()]}-{int(day):02d}"


def amount(text):
    text = text.strip().replace(",", "")
    if text == "":
        return None
    x = float(text)
    return int(x) if x.is_integer() else x


def main(argv):
    path = argv[1]
    dump = int(argv[argv.index("--dump") + 1]) if "--dump" in argv else 0
    read = sent = size = 0
    kept = []
    batch = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        i_id, i_name, i_date = col["Opportunity ID"], col["Name"], col["Close Date"]
        i_amount, i_stage = col["Amount"], col["Stage"]
        i_account, i_owner = col["Account"], col["Owner"]
        for row in reader:
            read += 1
            key = row[i_id].strip()
            if key == "":
                continue
            batch.append(
                {
                    "opportunity_id": key,
                    "opportunity_name": row[i_name].strip(),
                    "close_date": close_date(row[i_date]),
                    "amount": amount(row[i_amount]),
                    "stage": row[i_stage].strip(),
                    "account": row[i_account].strip(),
                    "owner_email": row[i_owner].strip(),
                    "source_system": "crm",
                }
            )
            if len(batch) == BATCH:
                size += len(json.dumps(batch, separators=(",", ":"), ensure_ascii=False))
                sent += len(batch)
                if len(kept) < dump:
                    kept.extend(batch[: dump - len(kept)])
                batch = []
    if batch:
        size += len(json.dumps(batch, separators=(",", ":"), ensure_ascii=False))
        sent += len(batch)
        if len(kept) < dump:
            kept.extend(batch[: dump - len(kept)])
    if dump:
        print(json.dumps(kept, ensure_ascii=False))
    else:
        print(json.dumps({"read": read, "sent": sent, "bytes": size}))


if __name__ == "__main__":
    main(sys.argv)
