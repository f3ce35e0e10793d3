"""Growth beyond protected time: milestones, the growth log, counting rules, quarterly reviews."""
