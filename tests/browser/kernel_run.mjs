// Shared by the student-flow scenarios (puppeteer and WebDriver): run code in the current
// notebook's kernel as a cell would, answering input() prompts. `runInPage` executes inside
// the page (each driver serializes it); `text` joins a result's outputs.
export async function runInPage(code, answers) {
  const w = window.jupyterapp.shell.currentWidget;
  const kernel = w.sessionContext.session.kernel;
  const outputs = [];
  const prompts = [];
  const future = kernel.requestExecute({ code, allow_stdin: true, store_history: true });
  future.onStdin = (msg) => {
    prompts.push(msg.content.prompt);
    future.sendInputReply({ status: 'ok', value: answers.shift() ?? '' }, msg.header);
  };
  future.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (['stream', 'display_data', 'execute_result', 'error'].includes(t)) {
      const c = msg.content;
      outputs.push({ type: t, text: String(c.text || (c.data && c.data['text/plain']) || c.evalue || ''),
        mimes: c.data ? Object.keys(c.data) : [] });
    }
  };
  const reply = await future.done;
  return { status: reply.content.status, outputs, prompts };
}

export const text = (r) => r.outputs.map((o) => o.text).join('');

// The student flow's cells, the same in every engine. `run(code, answers)` runs one cell in
// the page's kernel (with the driver's runInPage); the results go into `out`.
// First a cell, numpy/pandas/matplotlib with a plot, input(), a file written by Python:
export async function firstCells(run, out) {
  out.cell = text(await run('print(6 * 7)'));
  const sci = await run([
    'import numpy as np, pandas as pd, matplotlib.pyplot as plt',
    'df = pd.DataFrame({"x": np.arange(5), "y": np.arange(5) ** 2})',
    'print("sum", int(df["y"].sum()))',
    'plt.plot(df["x"], df["y"]); plt.show()',
  ].join('\n'));
  out.science = { text: text(sci), mimes: sci.outputs.flatMap((o) => o.mimes), status: sci.status };
  const asked = await run('name = input("Your name? ")\nprint("Hello", name)', ['Ada']);
  out.input = { text: text(asked), prompts: asked.prompts };
  out.written = text(await run('open("from_python.txt", "w").write("made by Python")\nimport os\nprint(os.getcwd())'));
}

// Then, once the file browser saved from_browser.txt: Python reads it, and time.sleep works.
export async function lastCells(run, out) {
  out.read = text(await run('print(open("from_browser.txt").read())'));
  out.sleep = text(await run('import time\nt0 = time.time()\ntime.sleep(1.2)\nprint(round(time.time() - t0, 1) >= 1.1)'));
}
