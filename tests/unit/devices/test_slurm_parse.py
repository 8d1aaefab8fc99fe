"""Parsing what Slurm prints: index ranges and ``scontrol show job -d`` (text as 22.05 prints it)."""

from __future__ import annotations

from workbench.devices.backends.slurm import expand_ids, parse_job

SHOWN = """JobId=7 JobName=wb-lease-12
   JobState=RUNNING Reason=None Dependency=(null)
   NodeList=vm
   NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:*
   JOB_GRES=npu:3
     Nodes=vm CPU_IDs=1 Mem=0 GRES=npu:3(IDX:0-1,3),gpu:a100:1(IDX:2)
"""


def test_index_ranges() -> None:
    assert expand_ids("0-1,3") == ["0", "1", "3"]
    assert expand_ids("5") == ["5"]
    assert expand_ids("") == []


def test_scontrol_job_detail() -> None:
    job = parse_job(SHOWN)
    assert job["state"] == "RUNNING" and job["nodes"] == "vm" and job["cpus"] == ["1"]
    assert job["gres"] == {"npu": ["0", "1", "3"], "gpu": ["2"]}
