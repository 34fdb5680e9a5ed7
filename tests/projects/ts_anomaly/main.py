import argparse

import numpy as np
import torch
from data_factory.data_loader import get_loader_segment
from model.AnomalyTransformer import AnomalyTransformer
from solver import Solver


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_path", default="./dataset/SMD")
    parser.add_argument("--n_features", type=int, default=38)
    parser.add_argument("--win_size", type=int, default=100)
    parser.add_argument("--d_model", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--k", type=float, default=3.0)
    parser.add_argument("--temperature", type=float, default=50.0)
    parser.add_argument("--max_norm", type=float, default=5.0)
    parser.add_argument("--num_epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    train_loader = get_loader_segment(
        args.data_path, batch_size=args.batch_size, win_size=args.win_size, mode="train"
    )
    test_loader = get_loader_segment(
        args.data_path, batch_size=args.batch_size, win_size=args.win_size, mode="test"
    )
    model = AnomalyTransformer(args.n_features, args.win_size, d_model=args.d_model).to(args.device)
    solver = Solver(model, train_loader, test_loader, args)
    solver.train()
    scores = solver.anomaly_scores()
    thresh = np.percentile(scores, 99.0)
    print("threshold", thresh, "anomalies", int((scores > thresh).sum()))


if __name__ == "__main__":
    main()
