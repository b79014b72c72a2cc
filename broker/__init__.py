"""Everything about the Mosquitto broker but its main config (SPEC §1, §7).

`broker.provision` renders the root `mosquitto.conf` into a runnable set-up for a folder and a
port, writes hashed passwords and the ACL (`broker.acl`), and reloads a running broker when
meters are added or removed. `python -m broker --help` lists the commands.
"""
