"""Train or test AVTNet (one-layer backend, frames in [0, 1]) with the shared engine (models/engine.py).

python avt_main.py --data_root data --save_prefix work_dir/avt
python avt_main.py --data_root data --testB --weights work_dir/avt/avnet_bestmodel.pth \
    --save_prefix work_dir/avt
torchrun --nproc_per_node=2 avt_main.py --data_root data --save_prefix work_dir/avt
"""
from models.engine import cli

if __name__ == "__main__":
    cli(kind="avt")
