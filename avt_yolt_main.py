"""Train or test AVTNet_YOLT (coarse grid cell + fine offset) with the shared engine
(models/engine.py).  The published fusion used a YOLT run with --data_seed 2.

    python avt_yolt_main.py --data_root data --data_seed 2 --save_prefix work_dir/yolt
    python avt_yolt_main.py --data_root data --testB --weights work_dir/yolt/avnet_bestmodel.pth
"""
from models.engine import cli

if __name__ == "__main__":
    cli(kind="yolt")
