# Turns config.example.toml into the configuration the packages install:
# absolute paths in the places a Linux service keeps them.
/^# This is the file `make run` uses/,/then change what you need\.$/c\
# Installed by the signagent package as /etc/signagent/config.toml (an upgrade\
# never overwrites your edits). The service is enabled but does not start\
# until this file differs from /usr/share/signagent/config.toml. Set your\
# folders and backend, then:\
#   sudo -u signagent signagent check --config /etc/signagent/config.toml\
#   sudo signagent install --config /etc/signagent/config.toml --user signagent\
#        (only if you changed the folders: the unit may write only to them)\
#   sudo systemctl start signagent
s|^data_dir = "var/data"|data_dir = "/var/lib/signagent"|
s|"var/signstash.secret"|"/etc/signagent/signstash.secret"|
s,^\(inbox\|outbox\|error\|archive\) = "var/\([a-z]*\)",\1 = "/var/spool/signagent/\2",
