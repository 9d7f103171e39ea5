# Turns config.example.toml into the configuration the packages install:
# absolute paths in the places a Linux service keeps them.
/^# This is the file `make run` uses/,/then change what you need\.$/c\
# Installed by the signagent package as /etc/signagent/config.toml (an upgrade\
# never overwrites your edits). The service is enabled but does not start\
# until this file differs from /usr/share/signagent/config.toml: set your\
# folders and backend, run `signagent check --config /etc/signagent/config.toml`,\
# then `sudo signagent install --config /etc/signagent/config.toml --user signagent`\
# if you changed the folders, and `sudo systemctl start signagent`.
s|^data_dir = "var/data"|data_dir = "/var/lib/signagent"|
s|"var/signstash.secret"|"/etc/signagent/signstash.secret"|
s,^\(inbox\|outbox\|error\|archive\) = "var/\([a-z]*\)",\1 = "/var/spool/signagent/\2",
