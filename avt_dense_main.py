"""Train or test the dense per-second boundary network (models/dense.py), a fourth kind beside the
published three, with the shared engine (models/engine.py).

    python avt_dense_main.py --data_root data --save_prefix work_dir/dense --shift_aug 40
    python avt_dense_main.py --data_root data --testB --weights work_dir/dense/avnet_bestmodel.pth
        # writes submission.csv and submission_confidence.csv (posterior mass within 2 s)
"""
from models.engine import cli

if __name__ == "__main__":
    cli(kind="dense")
