"""equicrl: deep contrastive reinforcement learning in Equinox."""

from .cli._main import train_cli as train_cli, TrainOptions as TrainOptions
from .nn._actor import (
    act as act,
    GoalConditionedActor as GoalConditionedActor,
    squash_log_std as squash_log_std,
    tanh_gaussian_log_prob as tanh_gaussian_log_prob,
)
from .nn._blocks import ResidualBlock as ResidualBlock
from .nn._critic import ContrastiveCritic as ContrastiveCritic
from .nn._distill import (
    distill_gradient_step as distill_gradient_step,
    distill_loss as distill_loss,
)
from .nn._encoder import DeepEncoder as DeepEncoder
from .nn._energy import (
    ENERGIES as ENERGIES,
    energy as energy,
    energy_matrix as energy_matrix,
)
from .nn._losses import (
    actor_loss as actor_loss,
    alpha_loss as alpha_loss,
    INFONCE_KINDS as INFONCE_KINDS,
    infonce_loss as infonce_loss,
)
from .nn._policy import load_policy as load_policy, Policy as Policy
from .nn._update import (
    crl_gradient_step as crl_gradient_step,
    crl_losses as crl_losses,
    CRLState as CRLState,
    init_crl_state as init_crl_state,
    Transitions as Transitions,
)
from .runs._distill import distill as distill
from .runs._load import load_run as load_run, Run as Run
from .runs._loggers import (
    TensorBoardLogger as TensorBoardLogger,
    WandbLogger as WandbLogger,
)
from .runs._outputs import (
    draw_maze as draw_maze,
    plot_learning_curve as plot_learning_curve,
    plot_point_maze_trajectories as plot_point_maze_trajectories,
    plot_trajectories as plot_trajectories,
    rollout as rollout,
    save_html_rollout as save_html_rollout,
)
from .runs._train import Preempted as Preempted, train as train
from .training._buffer import (
    TrajectoryBuffer as TrajectoryBuffer,
    truncated_geometric as truncated_geometric,
)
from .training._config import CRLConfig as CRLConfig
from .training._evaluate import evaluate as evaluate, evaluate_seeds as evaluate_seeds
from .training._maps import (
    goal_embeddings as goal_embeddings,
    GoalEmbeddings as GoalEmbeddings,
    q_value_map as q_value_map,
    QValueMap as QValueMap,
)
from .training._sharding import make_mesh as make_mesh
from .training._state import seed_state as seed_state, TrainState as TrainState


__version__ = "0.1.0"
