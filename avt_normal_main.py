"""Train or test the normalised AVTNet (two-layer backend, ImageNet mean/std frames; --if_normal is
on by default) with the shared engine (models/engine.py).

    python avt_normal_main.py --data_root data --save_prefix work_dir/avt_normal
    python avt_normal_main.py --data_root data --testB --weights work_dir/avt_normal/avnet_bestmodel.pth
"""
from models.engine import cli

if __name__ == "__main__":
    cli(kind="avt_normal", if_normal=True)
