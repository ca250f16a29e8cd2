"""Reinforcement learning over the twin: the DQN supervisor's Gymnasium environment, training and evaluation.

``ConcentratorEnv`` (env.py) is a Gymnasium ``Env`` over the steppable run API (``open_run``): one step is one
supervisory period of the ``controllers.dqn:DQNSupervisor`` block, which it drives through that block's ``action``
input. ``train_dqn`` (train.py) trains Stable-Baselines3's DQN on it and exports the Q-network to the ``.npz`` the
block runs with numpy. Gymnasium, Stable-Baselines3 and torch come with the ``rl`` extra (``pip install -e .[rl]``);
importing this package does not need them. See docs/rl.md.
"""
