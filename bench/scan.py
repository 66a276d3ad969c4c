"""Benchmark: load_report + evaluate on a Trivy report of ≥ 5,000 findings (well under 1 s)."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Final

from gangway.config import ScanConfig
from gangway.scan import evaluate, load_report

ROOT: Final = Path(__file__).resolve().parents[1]
TRIVY_FIXTURES: Final = ROOT.parent / "shared" / "fixtures" / "trivy"
OWN_REPORTS: Final = ROOT / "tests" / "unit" / "scan" / "reports"
SOURCES: Final = (
    "debian-buster.json.golden",
    "mariner-1.0.json.golden",
    "alpine-310.json.golden",
    "ubi-7-comprehensive.json.golden",
    "pip.json.golden",
    "secrets.json.golden",
)
OWN_SOURCES: Final = ("critical-with-fix.json", "unfixed-only.json", "secret.json")
FINDINGS: Final = 5_000
RUNS: Final = 5
TARGET_SECONDS: Final = 0.5


def source_results() -> tuple[str, list[dict[str, Any]]]:
    """Results with findings: Trivy's own fixtures when present, else the project's reports."""
    names: tuple[str, ...]
    if TRIVY_FIXTURES.is_dir():
        folder, names, origin = TRIVY_FIXTURES, SOURCES, "../shared/fixtures/trivy"
    else:
        folder, names, origin = OWN_REPORTS, OWN_SOURCES, "tests/unit/scan/reports"
    results: list[dict[str, Any]] = []
    for name in names:
        document = json.loads((folder / name).read_text(encoding="utf-8"))
        results += [
            r for r in document.get("Results", []) if r.get("Vulnerabilities") or r.get("Secrets")
        ]
    return origin, results


def build_report(results: list[dict[str, Any]]) -> dict[str, Any]:
    """A report whose Results replicate the sources, with distinct ids, until ≥ FINDINGS."""
    copies: list[dict[str, Any]] = []
    count = 0
    while count < FINDINGS:
        for result in results:
            copy = {**result, "Target": f"{result['Target']} #{len(copies)}"}
            suffix = f"-{len(copies)}"
            if "Vulnerabilities" in copy:
                copy["Vulnerabilities"] = [
                    {**v, "VulnerabilityID": v["VulnerabilityID"] + suffix}
                    for v in result["Vulnerabilities"]
                ]
            count += len(copy.get("Vulnerabilities") or []) + len(copy.get("Secrets") or [])
            copies.append(copy)
    return {
        "SchemaVersion": 2,
        "ArtifactName": "bench/scan.py",
        "ArtifactType": "container_image",
        "Results": copies,
    }


def main() -> int:
    """Time the gate on the built report and print the figures."""
    origin, results = source_results()
    document = build_report(results)
    findings = sum(
        len(r.get("Vulnerabilities") or []) + len(r.get("Secrets") or [])
        for r in document["Results"]
    )
    # One entry that applies and nineteen that do not: every finding is checked against all.
    ignores = [
        {"id": f"CVE-2000-{number:04}", "reason": "bench", "expires": "2099-01-01"}
        for number in range(19)
    ]
    ignores.append({"id": "CVE-2019-18224-0", "reason": "bench", "expires": "2099-01-01"})
    policy = ScanConfig.model_validate({"ignore": ignores})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.json"
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        size = path.stat().st_size
        loads: list[float] = []
        evaluations: list[float] = []
        for _ in range(RUNS):
            start = time.perf_counter()
            report = load_report(path)
            loaded = time.perf_counter()
            verdict = evaluate(report, policy, today=date.today())
            loads.append(loaded - start)
            evaluations.append(time.perf_counter() - loaded)
    totals = [load + evaluation for load, evaluation in zip(loads, evaluations, strict=True)]
    best = min(totals)
    print(
        f"report: {findings} findings in {len(document['Results'])} results, "
        f"{size / 1e6:.1f} MB (from {origin})"
    )
    print(f"verdict: {len(verdict.blocking)} blocking, {len(verdict.ignored)} ignored")
    print(f"load_report: best {min(loads) * 1000:.0f} ms of {RUNS}")
    print(f"evaluate:    best {min(evaluations) * 1000:.0f} ms of {RUNS}")
    print(
        f"total:       best {best * 1000:.0f} ms of {RUNS} "
        f"(target < {TARGET_SECONDS * 1000:.0f} ms)"
    )
    return 0 if best < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
