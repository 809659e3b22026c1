#!/usr/bin/python3
"""The STNN one-class model of src/model/stnn.ts ('full' widths) in PyTorch, timed on the CPU.

Reference for benchmarks/inference.ts: same layers and sizes (two 3-layer LSTM stacks of 115 units
over the 5 rows, dense 121 -> 11x11 maps stacked to depth 2, Conv3d 32,32 / pool / 64,64 / pool /
128 + BN / pool, dense 512, 1024, 2). Prints one JSON object on stdout:
  {"torch": version, "threads": n, "inference": {"1": flows/s, "32": ..., "256": ...},
   "train": {"batch": b, "samples_per_s": x}}
Usage: inference_torch.py [--threads 2] [--seconds 3] [--train-batch 64]
"""
import argparse
import json
import time

import torch
from torch import nn


class Stnn(nn.Module):
    def __init__(self, units=115, layers=3, conv=(32, 32, 64, 64, 128), dense=(512, 1024), dropout=0.5, alpha=0.2):
        super().__init__()
        self.lstm_a = nn.LSTM(23, units, num_layers=layers, batch_first=True)
        self.lstm_b = nn.LSTM(23, units, num_layers=layers, batch_first=True)
        self.map_a = nn.Linear(units, 121)
        self.map_b = nn.Linear(units, 121)
        act = lambda: nn.LeakyReLU(alpha)
        pool = lambda: nn.MaxPool3d(2, stride=2, ceil_mode=True)  # = 'same' padding for these sizes
        c1, c2, c3, c4, c5 = conv
        self.cnn = nn.Sequential(
            nn.Conv3d(1, c1, 3, padding=1), act(), nn.Conv3d(c1, c2, 3, padding=1), act(), pool(),
            nn.Conv3d(c2, c3, 3, padding=1), act(), nn.Conv3d(c3, c4, 3, padding=1), act(), pool(),
            nn.Conv3d(c4, c5, 3, padding=1), act(), nn.BatchNorm3d(c5), pool(),
            nn.Flatten(),
            nn.Linear(c5 * 4, dense[0]), act(), nn.Dropout(dropout),
            nn.Linear(dense[0], dense[1]), act(), nn.Dropout(dropout),
            nn.Linear(dense[1], 2),
        )

    def forward(self, x):  # x: [B, 115] -> logits [B, 2]
        rows = x.view(-1, 5, 23)
        a = self.map_a(self.lstm_a(rows)[0][:, -1]).view(-1, 1, 11, 11)
        b = self.map_b(self.lstm_b(rows)[0][:, -1]).view(-1, 1, 11, 11)
        vol = torch.stack([a, b], dim=2)  # [B, C=1, D=2, 11, 11]
        return self.cnn(vol)


def timed(fn, seconds, min_reps=2):
    fn()  # warm-up
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        dt = time.perf_counter() - t0
        if reps >= min_reps and dt >= seconds:
            return dt / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--train-batch', type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Stnn()
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'inference': {}, 'train': {}}
    model.eval()
    with torch.no_grad():
        for b in (1, 32, 256):
            x = torch.randn(b, 115)
            per = timed(lambda: torch.softmax(model(x), dim=1)[:, 0].numpy(), args.seconds)
            out['inference'][str(b)] = b / per
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    b = args.train_batch
    x = torch.randn(b, 115)
    y = torch.randint(0, 2, (b,))

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    per = timed(step, args.seconds)
    out['train'] = {'batch': b, 'samples_per_s': b / per}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
