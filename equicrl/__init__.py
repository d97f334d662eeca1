"""equicrl: deep contrastive reinforcement learning in Equinox."""

from ._actor import (
    GoalConditionedActor as GoalConditionedActor,
    squash_log_std as squash_log_std,
    tanh_gaussian_log_prob as tanh_gaussian_log_prob,
)
from ._blocks import ResidualBlock as ResidualBlock
from ._buffer import (
    TrajectoryBuffer as TrajectoryBuffer,
    truncated_geometric as truncated_geometric,
)
from ._cli import train_cli as train_cli, TrainOptions as TrainOptions
from ._config import CRLConfig as CRLConfig
from ._critic import ContrastiveCritic as ContrastiveCritic
from ._distill import (
    distill as distill,
    distill_gradient_step as distill_gradient_step,
    distill_loss as distill_loss,
)
from ._encoder import DeepEncoder as DeepEncoder
from ._energy import (
    ENERGIES as ENERGIES,
    energy as energy,
    energy_matrix as energy_matrix,
)
from ._evaluate import evaluate as evaluate, evaluate_seeds as evaluate_seeds
from ._load import load_run as load_run, Run as Run
from ._loggers import TensorBoardLogger as TensorBoardLogger, WandbLogger as WandbLogger
from ._losses import (
    actor_loss as actor_loss,
    alpha_loss as alpha_loss,
    INFONCE_KINDS as INFONCE_KINDS,
    infonce_loss as infonce_loss,
)
from ._maps import (
    goal_embeddings as goal_embeddings,
    GoalEmbeddings as GoalEmbeddings,
    q_value_map as q_value_map,
    QValueMap as QValueMap,
)
from ._outputs import (
    draw_maze as draw_maze,
    plot_learning_curve as plot_learning_curve,
    plot_point_maze_trajectories as plot_point_maze_trajectories,
    rollout as rollout,
    save_html_rollout as save_html_rollout,
)
from ._policy import load_policy as load_policy, Policy as Policy
from ._sharding import make_mesh as make_mesh
from ._state import seed_state as seed_state, TrainState as TrainState
from ._train import train as train
from ._update import (
    crl_gradient_step as crl_gradient_step,
    crl_losses as crl_losses,
    CRLState as CRLState,
    init_crl_state as init_crl_state,
    Transitions as Transitions,
)


__version__ = "0.1.0"
