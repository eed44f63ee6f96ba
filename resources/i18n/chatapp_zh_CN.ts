<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="114" />
        <source>Starting the model process…</source>
        <extracomment>What the model bar says, as data, so that a language switch can say it again.</extracomment>
        <translation>正在启动模型进程…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="127" />
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="128" />
        <source>Replies appear here.</source>
        <translation>回复会显示在这里。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="130" />
        <source>Type a message. Enter sends, Shift+Enter starts a new line, Esc stops.</source>
        <translation>输入消息。Enter 发送，Shift+Enter 换行，Esc 停止。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="132" />
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="133" />
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="143" />
        <source>No model yet. Install the starter model with `chatapp models starter`, or open a GGUF file.</source>
        <translation>还没有模型。用 `chatapp models starter` 安装入门模型，或打开一个 GGUF 文件。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="145" />
        <source>Loading {name}…</source>
        <translation>正在加载 {name}…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="147" />
        <source>Model not loaded: {reason}</source>
        <translation>模型未加载：{reason}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="161" />
        <source>Open model</source>
        <translation>打开模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="161" />
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="172" />
        <source>Load a model first.</source>
        <translation>请先加载模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="176" />
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="176" />
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="201" />
        <source>Loading the model: {percent:.0f}%</source>
        <translation>正在加载模型：{percent:.0f}%</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="207" />
        <source>{name} · {arch} · {params:.0f}M parameters · {quant} · context {ctx} · threads {threads} · GPU layers {gpu}</source>
        <translation>{name} · {arch} · {params:.0f}M 参数 · {quant} · 上下文 {ctx} · 线程 {threads} · GPU 层数 {gpu}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="212" />
        <source>Ready.</source>
        <translation>就绪。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="219" />
        <source>error: {message}</source>
        <translation>错误：{message}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="237" />
        <source>{n} tokens · {speed} tok/s · first token {ttft:.0f} ms · {reason} · seed {seed}</source>
        <translation>{n} 个词元 · {speed} 词元/秒 · 首词元 {ttft:.0f} 毫秒 · {reason} · 种子 {seed}</translation>
    </message>
</context>
</TS>