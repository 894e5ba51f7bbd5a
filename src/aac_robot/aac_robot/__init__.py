"""aac_robot: the robot contract the simulator (aac_sim), the driver (aac_driver) and the policy runtime
(aac_policy's deploy side) share.

Topic, frame and service names (`ros_interface`), the Panda model with forward kinematics and IK (`panda`,
`kinematics`), motion limits and the action <-> command scaling (`motion`), the camera model and the one
crop/resize of training and deployment (`camera`, `preprocessing`), the exported actor's observation spec
(`actor_spec`), message <-> numpy conversions (`ros_convert`), strict YAML configs (`config_base`), episode
metrics (`metrics`) and node helpers (`node_main`). It never imports the simulator, gymnasium or torch: a
robot PC installs this, aac_driver and the policy runtime only (requirements-robot.txt).
"""
