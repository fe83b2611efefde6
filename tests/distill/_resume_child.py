"""Run distill in a child process (the test SIGKILLs it mid-run)."""
import json
import sys

from omr_data.distill import distill

records_path, config_json, journal = sys.argv[1:4]
records = json.loads(open(records_path).read())
for _row in distill(records, json.loads(config_json), journal):
    pass
