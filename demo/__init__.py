"""The local demo (`make demo`, `python -m demo`): broker, ingest worker, API and meters.

`demo.children` runs and stops the processes, `demo.customers` registers customers through the
API, `demo.banner` writes what the person sees; `demo.__main__` wires them together.
"""
