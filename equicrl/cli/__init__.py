"""The examples' command line: `train_cli`, its options, and what a command-line run
prints. Built on `equicrl.runs`.

The public names are `equicrl.X`; the modules here are private."""
