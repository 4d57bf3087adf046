// One user's visit to the course's JupyterHub in headless Chromium, for tests/test_hub.py.
//
// Why a script of its own: the test drives the hub the way a student does (log in, the
// Assignments panel, the notebook editor), through Debian's chromium and playwright-core,
// with no browser download. Every wait is on something visible (a selector, a text),
// never a sleep, with generous timeouts: CI machines are loaded.
//
//   node browser.js '{"hub": "http://127.0.0.1:PORT", "user": "...", "password": "...",
//                     "steps": "submit" | "feedback" | "gradebook", "shots": DIR,
//                     "first": 1, "cell": "rank_and_shape", "line": "return ..."}'
//
// It prints one JSON line on stdout ({"ok": true, ...}); any failure exits 1 after a
// screenshot named <first>-<user>-FAILED.png. Screenshots are numbered from "first" on.

const path = require("path");
const { chromium } = require("playwright-core");

const plan = JSON.parse(process.argv[2]);
const LONG = 240_000;          // spawning a server, validating a notebook on a busy machine
const SHORT = 60_000;
let shot = 0;

async function snap(page, name) {
  const number = String(plan.first + shot).padStart(2, "0");
  shot += 1;
  const file = path.join(plan.shots, `${number}-${plan.user}-${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

async function login(page) {
  await page.goto(`${plan.hub}/hub/login`, { timeout: SHORT });
  await page.fill("#username_input", plan.user);
  await page.fill("#password_input", plan.password);
  await page.click("#login_submit");
  // The hub spawns the user's server, then JupyterLab loads: wait for its menu bar.
  await page.waitForURL(/\/user\/[^/]+\/lab/, { timeout: LONG });
  await page.locator(".lm-MenuBar-itemLabel", { hasText: "Nbgrader" }).waitFor({ timeout: LONG });
}

async function nbgraderMenu(page) {
  // What the Nbgrader menu offers this user (students: no formgrader, no Create Assignment).
  await page.locator(".lm-MenuBar-itemLabel", { hasText: "Nbgrader" }).click();
  const item = page.locator(".lm-Menu-itemLabel", { hasText: "Assignment List" });
  await item.waitFor({ timeout: SHORT });
  return { item, labels: await page.locator(".lm-Menu-content .lm-Menu-itemLabel").allInnerTexts() };
}

async function openAssignments(page, out) {
  const menu = await nbgraderMenu(page);
  if (out) out.menu = menu.labels;
  await menu.item.click();
  // The list is loaded when its placeholders or items show (loading spinners hide).
  await page.locator("#released_assignments_list_loading").waitFor({ state: "hidden", timeout: LONG });
}

function row(page, list, assignment) {
  return page.locator(`#${list} .list_item`, { hasText: assignment }).first();
}

async function submit(page, out) {
  const a = plan.assignment;
  await openAssignments(page, out);
  await row(page, "released_assignments_list", a).waitFor({ timeout: LONG });
  await snap(page, "released");
  await row(page, "released_assignments_list", a).getByRole("button", { name: "Fetch" }).click();
  const fetched = row(page, "fetched_assignments_list", a);
  await fetched.waitFor({ timeout: LONG });
  out.fetched = true;
  // The fetch is complete (the panel lists it): the test now fills the other answers on
  // disk and tells us by a marker file.
  require("fs").writeFileSync(plan.fetched, "fetched");
  await waitForFile(plan.ready, LONG);

  // Edit one solution cell in the notebook editor, then save.
  await page.goto(`${plan.hub}/user/${plan.user}/lab/tree/${a}/${a}.ipynb`, { timeout: SHORT });
  const cell = page.locator(".jp-CodeCell", { hasText: `def ${plan.cell}(` }).first();
  await cell.waitFor({ timeout: LONG });
  await cell.scrollIntoViewIfNeeded();
  const stub = cell.locator(".cm-line", { hasText: "raise NotImplementedError()" });
  await stub.click();
  await page.keyboard.press("End");
  await page.keyboard.press("Shift+Home");        // to the indentation, not the margin
  await page.keyboard.insertText(plan.line);
  await cell.locator(".cm-line", { hasText: plan.line }).waitFor({ timeout: SHORT });
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+s");
  await page.locator(".jp-mod-dirty").first().waitFor({ state: "detached", timeout: SHORT }).catch(() => {});
  await waitForSaved(page);
  await snap(page, "edited");

  // Validate from the Assignments panel, as a student would before submitting.
  await page.goto(`${plan.hub}/user/${plan.user}/lab`, { timeout: SHORT });
  await page.locator(".lm-MenuBar-itemLabel", { hasText: "Nbgrader" }).waitFor({ timeout: LONG });
  await openAssignments(page);
  const again = row(page, "fetched_assignments_list", a);
  await again.waitFor({ timeout: LONG });
  await again.locator(".assignment-notebooks-link").click();
  await again.getByRole("button", { name: "Validate" }).click();
  const dialog = page.locator(".jp-Dialog", { hasText: "Validation Results" });
  await dialog.waitFor({ timeout: LONG });
  out.validation = (await dialog.innerText()).slice(0, 2000);
  out.validated = out.validation.includes("Success! Your notebook passes all the tests.");
  await snap(page, "validated");
  await dialog.getByRole("button", { name: /ok/i }).click();

  await again.getByRole("button", { name: "Submit" }).click();
  await row(page, "submitted_assignments_list", a).waitFor({ timeout: LONG });
  await snap(page, "submitted");
  out.submitted = true;
}

async function waitForSaved(page) {
  // JupyterLab marks an unsaved document's tab with jp-mod-dirty; saved means none left.
  await page.waitForFunction(() => document.querySelectorAll(".jp-mod-dirty").length === 0,
                             null, { timeout: SHORT });
}

async function waitForFile(file, timeout) {
  const fs = require("fs");
  const until = Date.now() + timeout;
  while (!fs.existsSync(file)) {
    if (Date.now() > until) throw new Error(`the test never wrote ${file}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function feedback(page, out) {
  const a = plan.assignment;
  await openAssignments(page);
  const submitted = row(page, "submitted_assignments_list", a);
  await submitted.waitFor({ timeout: LONG });
  await submitted.getByRole("button", { name: "Fetch Feedback" }).click();
  // After the fetch the panel refreshes and the submission's row links its feedback.
  const link = page.locator("#submitted_assignments_list a", { hasText: /view feedback/i }).first();
  await link.waitFor({ timeout: LONG });
  await snap(page, "feedback-fetched");
  out.fetched_feedback = true;
  // The file the fetch wrote (<assignment>/feedback/<timestamp>/<assignment>.html), as the
  // student sees it through their own server.
  const fs = require("fs");
  const base = path.join(plan.home, a, "feedback");
  const stamps = fs.existsSync(base) ? fs.readdirSync(base) : [];
  if (stamps.length !== 1) throw new Error(`expected one feedback folder in ${base}, found ${stamps}`);
  await page.goto(`${plan.hub}/user/${plan.user}/files/${a}/feedback/${encodeURIComponent(stamps[0])}/${a}.html`,
                  { timeout: SHORT });
  await page.locator("body", { hasText: "Score:" }).first().waitFor({ timeout: SHORT });
  await snap(page, "feedback");
  out.feedback_text = (await page.locator("body").innerText()).slice(0, 20000);
}

async function gradebook(page, out) {
  // formgrader's gradebook for the assignment, served by the instructor's own server.
  out.menu = (await nbgraderMenu(page)).labels;
  await page.keyboard.press("Escape");
  const url = `${plan.hub}/user/${plan.user}/formgrader/gradebook/${plan.assignment}/${plan.assignment}`;
  await page.goto(url, { timeout: SHORT });
  // formgrader lists "Submission #n" and hides student names until asked.
  await page.getByText("Submission #" + plan.students.length).waitFor({ timeout: LONG });
  await page.getByRole("button", { name: "Show All Names" }).click({ timeout: LONG });
  for (const student of plan.students) {
    await page.getByText(student, { exact: true }).first().waitFor({ state: "visible", timeout: LONG });
  }
  await snap(page, "gradebook");
  out.gradebook_text = (await page.locator("body").innerText()).slice(0, 4000);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: plan.chromium || "/usr/bin/chromium",
    headless: true,
    // Running as root in CI: Chromium's own sandbox needs user namespaces it may not get.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(SHORT);
  const out = { ok: false, user: plan.user, steps: plan.steps };
  try {
    await login(page);
    if (plan.steps === "submit") await submit(page, out);
    else if (plan.steps === "feedback") await feedback(page, out);
    else if (plan.steps === "gradebook") await gradebook(page, out);
    else throw new Error(`unknown steps ${plan.steps}`);
    out.ok = true;
  } catch (err) {
    out.error = String(err && err.stack || err);
    try { await page.screenshot({ path: path.join(plan.shots, `${String(plan.first).padStart(2, "0")}-${plan.user}-FAILED.png`) }); } catch (e) {}
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(out.ok ? 0 : 1);
})();
