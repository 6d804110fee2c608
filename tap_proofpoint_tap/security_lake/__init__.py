"""``proofpoint-tap-security-lake``: the OCSF tables of the DuckDB file as AWS Security Lake
custom-source Parquet (README, "Exporting to AWS Security Lake").

:mod:`.layout` names the sources, folders and files as Security Lake documents them,
:mod:`.shapes` gives each source its one Parquet schema, :mod:`.export` reads DuckDB and writes
the files, :mod:`.staging` swaps them into place whole, :mod:`.cli` is the command.
"""
