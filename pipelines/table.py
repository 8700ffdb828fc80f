"""Result tables of the pipelines (pipelines/pcq.mk): reads the JSON outputs
of pcq-infer in chain folders and prints a Markdown table with, per row,
the accuracy of the fused model with simulated quantization, the integer
accuracy, the integer model's size in bytes and its inference speed.
  table.py --run RUN [FILE.json ...]           rows for these chains of one run
  table.py --title T --out table.md RUN ...    every chain found in the runs, one
                                               section per run, and a PNG plot of
                                               accuracy against K (gnuplot)"""
import argparse
import datetime
import json
import os
import re
import subprocess


def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def chain_row(folder):
    name = os.path.basename(folder)
    m = re.match(r'(pcq|qat)-b(\d+)(?:f(\d+))?(?:r(\d+))?(pc)?(s)?(?:-k(\d+))?-ft(\d+)-lr(.+)-bs(\d+)$',
                 name)
    if not m:
        return None
    kind, bits, k = m.group(1), int(m.group(2)), int(m.group(7) or 1)
    edge = int(m.group(3)) if m.group(3) else None   # mixed precision: first/last bits
    res = int(m.group(4)) if m.group(4) else None    # residual branches' bits
    pc = bool(m.group(5))                            # weights per channel
    sym = bool(m.group(6))                           # on the symmetric grid
    sim, ints = load(os.path.join(folder, 'sim.json')), load(os.path.join(folder, 'int.json'))
    size = os.path.getsize(os.path.join(folder, 'int.msgpack')) if os.path.exists(
        os.path.join(folder, 'int.msgpack')) else None
    ips = ints['n'] / ints['engine_seconds'] if ints and ints.get('engine_seconds') else None
    extras = ([f'{edge}-bit first/last'] if edge else []) + ([f'{res}-bit residual adds'] if res else []) + \
        (['per-channel weights'] if pc else []) + (['symmetric weights'] if sym else [])
    width = f'{bits}-bit' + (f" ({', '.join(extras)})" if extras else '')
    label = f'QAT {width}' if kind == 'qat' else f'PCQ {width} K={k}'
    epochs, lr, batch = int(m.group(8)), m.group(9), int(m.group(10))
    label += f', fine-tuned {epochs} epoch{"s" if epochs > 1 else ""} (lr {lr}, batch {batch})'
    return {'label': label, 'kind': kind, 'bits': bits, 'edge': (edge or 0) + 0.5 * pc + 0.25 * sym + 0.125 * bool(res), 'width': width, 'k': k,
            'sim': sim and sim['top1'], 'int': ints and ints['top1'], 'size': size,
            'ips': ips, 'n': (ints or sim or {}).get('n'), 'folder': name, 'epochs': epochs}


def fmt(v, spec):
    return '–' if v is None else format(v, spec)


def table(run):
    rows = []
    fp32 = load(os.path.join(run, 'fp32.json'))
    pre = sorted(f for f in os.listdir(run) if f.startswith('pre-') and f.endswith('.msgpack')
                 and '.best.' not in f)
    if fp32:
        model = fp32.get('model', '')
        size = (os.path.getsize(model) if os.path.exists(model) else
                os.path.getsize(os.path.join(run, pre[0])) if pre else None)
        rows.append({'label': 'FP32', 'sim': fp32['top1'], 'int': None, 'size': size,
                     'ips': None, 'n': fp32['n'], 'kind': 'fp32', 'bits': 32, 'k': 0})
    chains = [chain_row(os.path.join(run, d)) for d in sorted(os.listdir(run))
              if os.path.isdir(os.path.join(run, d))]
    chains = [c for c in chains if c and (c['sim'] is not None or c['int'] is not None)]
    chains.sort(key=lambda c: (c['epochs'], c['kind'] != 'qat', -c['bits'], c['edge'], c['k']))
    return rows + chains


def markdown(rows):
    out = ['| model | simulated top-1 % | integer top-1 % | model bytes | integer images/s |',
           '|-------|------------------:|----------------:|--------------------:|-----------------:|']
    for r in rows:
        out.append(f"| {r['label']} | {fmt(r['sim'], '.2f')} | {fmt(r['int'], '.2f')} | "
                   f"{fmt(r['size'], ',')} | {fmt(r['ips'], ',.0f')} |")
    return '\n'.join(out)


def plot(runs, png):
    """Accuracy (simulated and integer) against K, one line per bit width and run."""
    data = os.path.splitext(png)[0] + '.dat'
    series = []
    with open(data, 'w') as f:
        for run in runs:
            rows = [r for r in table(run) if r['kind'] != 'fp32']
            for bits, edge, width, epochs in sorted({(r['bits'], r['edge'], r['width'], r['epochs']) for r in rows},
                                                    key=lambda b: (-b[0], b[1], b[3])):
                pts = sorted((r['k'] if r['kind'] == 'pcq' else 1, r['sim'], r['int'])
                             for r in rows if r['width'] == width and r['epochs'] == epochs)
                name = f"{os.path.basename(run).split('-')[0]} {width}, {epochs} epoch{'s' if epochs > 1 else ''}"
                f.write(f'# {name}\n')
                for k, s, i in pts:
                    f.write(f'{k} {s if s is not None else "NaN"} {i if i is not None else "NaN"}\n')
                f.write('\n\n')
                series.append(name)
    cmds = ['set terminal png size 900,560', f"set output '{png}'", "set xlabel 'clusters K (1 = QAT)'",
            "set ylabel 'top-1 %'", 'set key below', 'set grid', 'set offsets 0.3, 0.3, 0, 0']
    plots = []
    for idx, name in enumerate(series):
        plots.append(f"'{data}' index {idx} using 1:2 with linespoints title '{name} simulated'")
        plots.append(f"'{data}' index {idx} using 1:3 with linespoints dt 2 title '{name} integer'")
    cmds.append('plot ' + ', '.join(plots))
    try:
        subprocess.run(['gnuplot'], input='\n'.join(cmds), text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f'table.py: no plot ({e}); the data is in {data}')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', help='one run folder')
    ap.add_argument('--title')
    ap.add_argument('--out')
    ap.add_argument('--schedule', default='')
    ap.add_argument('paths', nargs='*')
    a = ap.parse_args()
    if a.run:
        rows = table(a.run)
        if a.paths:
            want = {os.path.basename(os.path.dirname(p)) for p in a.paths}
            rows = [r for r in rows if r['kind'] == 'fp32' or r.get('folder') in want]
        print(markdown(rows))
        return
    text = [f'# {a.title}', '', f'{a.schedule}', '',
            f'Made by `make table` on {datetime.date.today().isoformat()}.', '']
    for run in a.paths:
        text += [f'## {os.path.basename(run)}', '', markdown(table(run)), '']
    open(a.out + '.tmp', 'w').write('\n'.join(text))
    os.replace(a.out + '.tmp', a.out)
    plot(a.paths, os.path.splitext(a.out)[0] + '.png')
    print('\n'.join(text))


if __name__ == '__main__':
    main()
