"""`mash simulate`: replay contacts and disagreements through the real diagrams on a virtual
clock (scenario.py reads the input, runner.py runs it, report.py and present.py show it,
generate.py writes synthetic scenarios)."""
