"""The pure per-seed core of training: the config, the train state, the trajectory
buffer, collection, learning, evaluation, sharding over devices, and Q-value maps.
Built on `equicrl.nn` and `equicrl.envs`; writes nothing to disk.

The public names are `equicrl.X`; the modules here are private."""
