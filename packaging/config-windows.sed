# Turns config.example.toml into the configuration the MSI installs as
# C:\ProgramData\signagent\config.toml: relative paths resolve against that
# folder, so the data directory and the folders lie beside it.
/^# This is the file `make run` uses/,/then change what you need\.$/c\
# Installed by the signagent MSI as C:\\ProgramData\\signagent\\config.toml; an\
# upgrade never overwrites it and uninstalling keeps it. Set your folders\
# (UNC paths for shares: a service does not see mapped drives) and backend,\
# run `signagent check --config C:\\ProgramData\\signagent\\config.toml`, then\
# `signagent start --config C:\\ProgramData\\signagent\\config.toml` (restart,\
# if it runs already).
s|^data_dir = "var/data"|data_dir = "data"|
s|"var/signstash.secret"|"signstash.secret"|
s,^\(inbox\|outbox\|error\|archive\) = "var/\([a-z]*\)",\1 = "\2",
