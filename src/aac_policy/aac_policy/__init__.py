"""aac_policy: the asymmetric actor-critic learner (no rclpy in this package's core).

env -> `replay.HerReplay` -> `agent.Agent` (DDPG/TD3 over the asymmetric / symmetric / state
wirings of `spec.build_spec`) -> `checkpoint` -> `export` (deployable actor: torch.export + ONNX) ->
`evaluate` (report). Entry points: `aac_train`, `aac_evaluate`, `aac_compare`.
"""
