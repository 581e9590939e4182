// Native Verilator harness for the `tb` top of cosim/_tbgen.py (native=True): runs one cosim job
// (cosim/_job.py) without Python in the loop.  It reproduces, edge for edge, what the cocotb test
// (cosim/_tb.py) does with cocotbext-axi's AxiStreamSource/AxiStreamSink (no pause generators):
//   - rst high for RESET_CYCLES edges, released after the last; the streams start sampling at the next;
//   - per head: cfg and start set after an edge, start sampled by the next, frames queued after it;
//   - a source presents a beat after an edge where it had none or where its beat was taken;
//   - the sink is always ready (the top's stall generators, shared with cocotb, make the stalls);
//   - after the edge that raises done one more edge, then the next head's start.
// Stimuli are applied after the edge that decided them, as cocotb's writes are.  Usage:
//   Vtb JOB_DIR [+taps=FILE] [+progress=FILE] [+stall_q16=P] [+stall_seed=S]
// JOB_DIR holds job.txt (CosimJob.native_text), q.bin, k.bin, v.bin; o.bin and result.json are written.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "Vtb.h"
#include "verilated.h"
#include "tb_cfg.h"  // generated: HPU_RESET_CYCLES, HPU_N_CFG, set_cfg(top, values)

namespace {

template <std::size_t N>
void put(VlWide<N>& port, const uint8_t* bytes, std::size_t n) { std::memcpy(port.data(), bytes, n); }
template <typename T>
void put(T& port, const uint8_t* bytes, std::size_t n) { port = 0; std::memcpy(&port, bytes, n); }
template <std::size_t N>
void get(const VlWide<N>& port, uint8_t* bytes, std::size_t n) { std::memcpy(bytes, port.data(), n); }
template <typename T>
void get(const T& port, uint8_t* bytes, std::size_t n) { std::memcpy(bytes, &port, n); }

std::vector<uint8_t> slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// One cocotbext-axi AxiStreamSource without pause generator: `active` while it has a frame queued
// or a beat out; it samples the handshake at every edge while active.
struct Source {
    const uint8_t* data = nullptr;
    int beats = 0, next = 0, row_bytes = 0;
    bool active = false, valid = false;
    // decide at an edge (pre-edge tready); returns the beat to present or nullptr to drop valid
    bool step(bool tready, const uint8_t** beat) {
        if (!active) return false;
        if ((tready && valid) || !valid) {
            if (next < beats) {
                *beat = data + static_cast<std::size_t>(next++) * row_bytes;
                valid = true;
            } else {
                valid = false;
                active = false;  // idle until the next frame
            }
            return true;
        }
        return false;
    }
};

std::string json_str(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    if (argc < 2 || argv[1][0] == '+') {
        std::fprintf(stderr, "usage: %s JOB_DIR [+plusargs]\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::ifstream jf(dir + "/job.txt");
    std::string magic;
    int version = 0, heads = 0, n_q = 0, n_k = 0, d = 0;
    long long budget = 0;
    jf >> magic >> version >> heads >> n_q >> n_k >> d >> budget;
    if (!jf || magic != "hpu-cosim-job" || version != 1 || d != HPU_D) {
        std::fprintf(stderr, "%s/job.txt: not a version-1 cosim job for D=%d\n", dir.c_str(), HPU_D);
        return 2;
    }
    std::vector<std::vector<long long>> cfg(heads, std::vector<long long>(HPU_N_CFG));
    for (auto& run : cfg)
        for (auto& v : run) jf >> v;
    if (!jf) {
        std::fprintf(stderr, "%s/job.txt: truncated\n", dir.c_str());
        return 2;
    }
    const auto q = slurp(dir + "/q.bin"), k = slurp(dir + "/k.bin"), v = slurp(dir + "/v.bin");
    const std::size_t in_row = d, out_row = 2 * static_cast<std::size_t>(d);

    auto top = std::make_unique<Vtb>(ctx.get());
    Source src[3];  // k, v, q
    std::vector<uint8_t> out, frame;
    std::string error;
    std::ostringstream extra;
    uint8_t row[2 * HPU_D];
    long long edges = 0;
    bool streams_on = false, done_prev = false;

    top->clk = 0;
    top->rst = 1;
    top->eval();
    // One rising edge: the testbench decides from the values the edge samples, and its writes land after it.
    auto edge = [&]() {
        const uint8_t* beat[3] = {nullptr, nullptr, nullptr};
        bool change[3] = {false, false, false};
        if (streams_on) {
            const bool ready[3] = {bool(top->k_src_tready), bool(top->v_src_tready), bool(top->q_src_tready)};
            for (int i = 0; i < 3; ++i) change[i] = src[i].step(ready[i], &beat[i]);
            if (top->o_snk_tvalid && top->o_snk_tready) {
                get(top->o_snk_tdata, row, out_row);
                frame.insert(frame.end(), row, row + out_row);
                if (top->o_snk_tlast) {
                    out.insert(out.end(), frame.begin(), frame.end());
                    frame.clear();
                }
            }
        }
        top->clk = 1;
        top->eval();
        ++edges;
        if (streams_on) {
            if (change[0]) { top->k_src_tvalid = src[0].valid; if (beat[0]) put(top->k_src_tdata, beat[0], in_row); }
            if (change[1]) { top->v_src_tvalid = src[1].valid; if (beat[1]) put(top->v_src_tdata, beat[1], in_row); }
            if (change[2]) { top->q_src_tvalid = src[2].valid; if (beat[2]) put(top->q_src_tdata, beat[2], in_row); }
            top->o_snk_tready = 1;  // the sink drives tready high from its first edge on
        }
    };
    auto settle = [&]() {
        top->clk = 0;
        top->eval();
    };

    for (int i = 0; i < HPU_RESET_CYCLES; ++i) { edge(); settle(); }
    top->rst = 0;
    streams_on = true;
    edge();  // the sources' and the sink's first edge; the test checks X/Z here
    settle();
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t frames_before = 0;
    for (int h = 0; h < heads && error.empty(); ++h) {
        top->cfg_n_q = n_q;
        top->cfg_n_k = n_k;
        set_cfg(top.get(), cfg[h].data());
        top->start = 1;
        settle();
        edge();
        const long long start_cycle = static_cast<long long>(top->cycle) - 1;  // the edge's pre-edge count
        top->start = 0;
        const uint8_t* base[3] = {k.data() + h * n_k * in_row, v.data() + h * n_k * in_row, q.data() + h * n_q * in_row};
        const int beats[3] = {n_k, n_k, n_q};
        for (int i = 0; i < 3; ++i) {
            src[i].data = base[i];
            src[i].beats = beats[i];
            src[i].next = 0;
            src[i].row_bytes = static_cast<int>(in_row);
            src[i].active = true;
        }
        settle();
        done_prev = top->done;
        long long waited = 0;
        while (!(top->done && !done_prev)) {
            if (waited >= budget) {
                std::ostringstream hang;
                hang << "{\"head\": " << h << ", \"waited\": " << budget << ", \"start_cycle\": " << start_cycle
                     << ", \"now\": " << static_cast<long long>(top->cycle) << ", \"state\": {"
                     << "\"k\": [" << top->k_beats << ", " << top->k_last << ", " << int(top->k_tvalid) << ", " << int(top->k_tready) << "], "
                     << "\"v\": [" << top->v_beats << ", " << top->v_last << ", " << int(top->v_tvalid) << ", " << int(top->v_tready) << "], "
                     << "\"q\": [" << top->q_beats << ", " << top->q_last << ", " << int(top->q_tvalid) << ", " << int(top->q_tready) << "], "
                     << "\"o\": [" << top->o_beats << ", " << top->o_last << ", " << int(top->o_tvalid) << ", " << int(top->o_tready) << "]}}";
                error = "hang";
                extra.str(hang.str());
                break;
            }
            done_prev = top->done;
            edge();
            settle();
            ++waited;
        }
        if (!error.empty()) break;
        edge();  // one more edge, as the cocotb test waits before reading the sink
        const std::size_t got = out.size() - frames_before * out_row;
        if (got == 0) {
            error = "head " + std::to_string(h) + ": done pulsed at cycle " + std::to_string(static_cast<long long>(top->cycle) - 2) +
                    " but o_tlast never came (" + std::to_string(top->o_beats) + " O rows accepted, " + std::to_string(n_q) + " expected)";
        } else if (got != out_row * n_q) {
            error = "head " + std::to_string(h) + ": o_tlast after " + std::to_string(got / out_row) + " rows, expected it on row " +
                    std::to_string(n_q - 1) + " (n_q=" + std::to_string(n_q) + ")";
        }
        frames_before = out.size() / out_row;
        settle();
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long long last_cycle = static_cast<long long>(top->cycle) - 1;
    top->final();
    {
        std::ofstream of(dir + "/o.bin", std::ios::binary);
        of.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    }
    std::ofstream rf(dir + "/result.json");
    rf << "{\"error\": " << (error.empty() || error == "hang" ? "null" : json_str(error)) << ", \"last_cycle\": " << last_cycle
       << ", \"sim_wall_s\": " << wall << ", \"extra\": {" << (error == "hang" ? "\"hang\": " + extra.str() : "") << "}}\n";
    return 0;
}
