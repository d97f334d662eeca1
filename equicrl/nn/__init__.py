"""The networks and their losses: residual blocks, the deep encoder, the contrastive
critic, the goal-conditioned actor, energies, InfoNCE and the actor's losses, one CRL
gradient step, distillation's losses, and a deployable policy. Pure functions of
arrays; nothing here knows of envs or runs.

The public names are `equicrl.X`; the modules here are private."""
