/* video.c: H.264 video written and read through FFmpeg's libraries (radiant_images.h):
   frames as 8-bit RGB, converted to 4:2:0 YUV by libswscale (BT.601, limited range, the
   libraries' defaults both ways), encoded by libx264 into the container the name asks
   for. The file is written under a hidden name beside the target and renamed into place
   once finished, so that a failed or abandoned encode leaves nothing half-written. */
#include "../renderer/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef RD_HAVE_VIDEO
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

struct rd_video_writer {
    rd_context *ctx;
    char path[4096], partial[4096];
    AVFormatContext *format;
    AVCodecContext *codec;
    AVStream *stream;
    AVFrame *frame;
    AVPacket *packet;
    struct SwsContext *scale;
    uint8_t *rgb; /* one frame of 8-bit RGB */
    int64_t next_pts;
    bool header_written;
};

static rd_result av_fail(rd_context *ctx, const char *path, const char *step, int err)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(err, text, sizeof text);
    return rd_fail(ctx, err == AVERROR(ENOMEM) ? RD_ERROR_OUT_OF_MEMORY : RD_ERROR_IO, "%s: %s: %s", path, step, text);
}

/* Sends a frame (NULL: the end) and writes every packet the encoder has ready. */
static rd_result encode(rd_video_writer *v, AVFrame *frame)
{
    int err = avcodec_send_frame(v->codec, frame);
    if (err < 0) return av_fail(v->ctx, v->path, "encoding a frame", err);
    for (;;) {
        err = avcodec_receive_packet(v->codec, v->packet);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return RD_OK;
        if (err < 0) return av_fail(v->ctx, v->path, "encoding a frame", err);
        /* a frame lasts one tick of 1/fps: without a duration the MP4's edit list may end
           before the last frame, and readers drop it (10 frames read back as 9) */
        if (v->packet->duration == 0) v->packet->duration = 1;
        av_packet_rescale_ts(v->packet, v->codec->time_base, v->stream->time_base);
        v->packet->stream_index = v->stream->index;
        err = av_interleaved_write_frame(v->format, v->packet);
        if (err < 0) return av_fail(v->ctx, v->path, "writing a frame", err);
    }
}

static void drop(rd_video_writer *v)
{
    if (v->format && v->format->pb) avio_closep(&v->format->pb);
    if (v->partial[0]) unlink(v->partial);
    avformat_free_context(v->format);
    avcodec_free_context(&v->codec);
    av_frame_free(&v->frame);
    av_packet_free(&v->packet);
    sws_freeContext(v->scale);
    free(v->rgb);
    free(v);
}

/* The library never prints: FFmpeg's own log (libx264's statistics, warnings) is off; its
   failures come back as results, which the messages name. */
static void quiet(void) { av_log_set_level(AV_LOG_QUIET); }

rd_result rd_video_open(rd_context *ctx, const char *path, const rd_video_desc *desc, rd_video_writer **out)
{
    quiet();
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_video_open: out is NULL");
    *out = NULL;
    if (!path || !desc) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_video_open: path and desc are required");
    int fps = desc->fps ? desc->fps : 30, crf = desc->crf ? desc->crf : 16;
    if (desc->width < 2 || desc->height < 2 || desc->width > 16384 || desc->height > 16384 || desc->width % 2 || desc->height % 2)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: H.264 in 4:2:0 takes an even width and height from 2 to 16384; %dx%d is not",
                       path, desc->width, desc->height);
    if (fps < 1 || fps > 1000 || crf < 0 || crf > 51)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: fps %d (1..1000) or crf %d (0..51) is out of range", path, fps, crf);
    rd_video_writer *v = calloc(1, sizeof *v);
    if (!v) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    v->ctx = ctx;
    snprintf(v->path, sizeof v->path, "%s", path);
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int)(slash - path + 1) : 0;
    snprintf(v->partial, sizeof v->partial, "%.*s.%s.partial-%ld", dir, path, path + dir, (long)getpid());
    rd_result r = RD_OK;
    const AVCodec *h264 = avcodec_find_encoder_by_name("libx264");
    int err = avformat_alloc_output_context2(&v->format, NULL, NULL, path);
    if (err < 0 || !v->format) r = av_fail(ctx, path, "choosing a container from the name", err < 0 ? err : AVERROR(EINVAL));
    else if (!h264) r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: this FFmpeg has no libx264 encoder", path);
    if (r == RD_OK && (!(v->stream = avformat_new_stream(v->format, NULL)) || !(v->codec = avcodec_alloc_context3(h264)) ||
                       !(v->frame = av_frame_alloc()) || !(v->packet = av_packet_alloc()) ||
                       !(v->rgb = malloc((size_t)desc->width * desc->height * 3))))
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the encoder", path);
    if (r == RD_OK) {
        AVCodecContext *c = v->codec;
        c->width = desc->width, c->height = desc->height, c->pix_fmt = AV_PIX_FMT_YUV420P;
        c->time_base = (AVRational){1, fps}, c->framerate = (AVRational){fps, 1}, c->gop_size = fps;
        c->colorspace = AVCOL_SPC_SMPTE170M, c->color_range = AVCOL_RANGE_MPEG;
        if (v->format->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        av_opt_set_int(c->priv_data, "crf", crf, 0);
        av_opt_set(c->priv_data, "preset", "medium", 0);
        if ((err = avcodec_open2(c, h264, NULL)) < 0) r = av_fail(ctx, path, "opening libx264", err);
    }
    if (r == RD_OK && (err = avcodec_parameters_from_context(v->stream->codecpar, v->codec)) < 0) r = av_fail(ctx, path, "stream", err);
    if (r == RD_OK) {
        v->stream->time_base = v->codec->time_base;
        v->frame->format = AV_PIX_FMT_YUV420P, v->frame->width = desc->width, v->frame->height = desc->height;
        if ((err = av_frame_get_buffer(v->frame, 0)) < 0) r = av_fail(ctx, path, "frame buffer", err);
    }
    if (r == RD_OK && !(v->scale = sws_getContext(desc->width, desc->height, AV_PIX_FMT_RGB24, desc->width, desc->height,
                                                  AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL)))
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: libswscale cannot convert RGB to YUV 4:2:0 here", path);
    if (r == RD_OK && (err = avio_open(&v->format->pb, v->partial, AVIO_FLAG_WRITE)) < 0) {
        v->partial[0] = '\0'; /* nothing to remove */
        r = av_fail(ctx, path, "creating the file", err);
    }
    if (r == RD_OK && (err = avformat_write_header(v->format, NULL)) < 0) r = av_fail(ctx, path, "writing the header", err);
    if (r != RD_OK) {
        drop(v);
        return r;
    }
    v->header_written = true;
    *out = v;
    return RD_OK;
}

rd_result rd_video_write(rd_video_writer *v, const rd_image *frame)
{
    if (!v || !frame || !frame->pixels) return RD_ERROR_INVALID_ARGUMENT;
    if (frame->width != v->codec->width || frame->height != v->codec->height || frame->channels < 3)
        return rd_fail(v->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: a %dx%d frame of %d channels in a %dx%d RGB video", v->path, frame->width,
                       frame->height, frame->channels, v->codec->width, v->codec->height);
    size_t pixels = (size_t)frame->width * frame->height;
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < 3; c++) {
            float x = frame->pixels[p * (size_t)frame->channels + c];
            v->rgb[3 * p + c] = (uint8_t)lrintf(255.0f * (x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f)); /* NaN: 0 */
        }
    int err = av_frame_make_writable(v->frame);
    if (err < 0) return av_fail(v->ctx, v->path, "frame buffer", err);
    const uint8_t *src[1] = {v->rgb};
    const int stride[1] = {3 * frame->width};
    sws_scale(v->scale, src, stride, 0, frame->height, v->frame->data, v->frame->linesize);
    v->frame->pts = v->next_pts++;
    return encode(v, v->frame);
}

rd_result rd_video_close(rd_video_writer *v, bool write)
{
    if (!v) return RD_OK;
    rd_result r = RD_OK;
    if (write) {
        r = encode(v, NULL);
        int err = r == RD_OK ? av_write_trailer(v->format) : 0;
        if (err < 0) r = av_fail(v->ctx, v->path, "finishing the file", err);
        if (r == RD_OK && (err = avio_closep(&v->format->pb)) < 0) r = av_fail(v->ctx, v->path, "closing the file", err);
        if (r == RD_OK && rename(v->partial, v->path) != 0)
            r = rd_fail(v->ctx, RD_ERROR_IO, "%s: cannot put the finished video in place: %s", v->path, strerror(errno));
        if (r == RD_OK) v->partial[0] = '\0';
    }
    drop(v);
    return r;
}

rd_result rd_video_read(rd_context *ctx, const char *path, rd_image *frames, int max_frames, int *count)
{
    quiet();
    *count = 0;
    AVFormatContext *format = NULL;
    AVCodecContext *codec = NULL;
    AVFrame *frame = av_frame_alloc();
    AVPacket *packet = av_packet_alloc();
    struct SwsContext *scale = NULL;
    uint8_t *rgb = NULL;
    rd_result r = RD_OK;
    int err = frame && packet ? avformat_open_input(&format, path, NULL, NULL) : AVERROR(ENOMEM);
    if (err < 0) r = av_fail(ctx, path, "opening the video", err);
    if (r == RD_OK && (err = avformat_find_stream_info(format, NULL)) < 0) r = av_fail(ctx, path, "reading its streams", err);
    int stream = r == RD_OK ? av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0) : -1;
    if (r == RD_OK && stream < 0) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: no video stream", path);
    const AVCodec *decoder = r == RD_OK ? avcodec_find_decoder(format->streams[stream]->codecpar->codec_id) : NULL;
    if (r == RD_OK && !decoder) r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: no decoder for its video", path);
    if (r == RD_OK && (!(codec = avcodec_alloc_context3(decoder)) ||
                       avcodec_parameters_to_context(codec, format->streams[stream]->codecpar) < 0 || avcodec_open2(codec, decoder, NULL) < 0))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: cannot open its decoder", path);
    for (bool flushing = false, done = false; r == RD_OK && !done;) {
        if (!flushing) {
            err = av_read_frame(format, packet);
            if (err == AVERROR_EOF) flushing = true, err = avcodec_send_packet(codec, NULL);
            else if (err >= 0) {
                err = packet->stream_index == stream ? avcodec_send_packet(codec, packet) : 0;
                av_packet_unref(packet);
            }
            if (err < 0 && err != AVERROR(EAGAIN)) r = av_fail(ctx, path, "decoding", err);
        }
        while (r == RD_OK && (err = avcodec_receive_frame(codec, frame)) >= 0) {
            if (frames && *count < max_frames) {
                int w = frame->width, h = frame->height;
                if (!scale) scale = sws_getContext(w, h, frame->format, w, h, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
                if (!rgb) rgb = malloc((size_t)w * h * 3);
                if (!scale || !rgb || rd_image_alloc(w, h, 3, &frames[*count]) != RD_OK) {
                    r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for a %dx%d frame", path, w, h);
                    break;
                }
                uint8_t *dst[1] = {rgb};
                int stride[1] = {3 * w};
                sws_scale(scale, (const uint8_t *const *)frame->data, frame->linesize, 0, h, dst, stride);
                for (size_t k = 0; k < (size_t)w * h * 3; k++) frames[*count].pixels[k] = rgb[k] / 255.0f;
            }
            (*count)++;
        }
        if (r == RD_OK && err != AVERROR(EAGAIN) && err != AVERROR_EOF) r = av_fail(ctx, path, "decoding", err);
        if (err == AVERROR_EOF) done = true;
    }
    sws_freeContext(scale);
    free(rgb);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
    av_frame_free(&frame);
    av_packet_free(&packet);
    return r;
}

#else /* built without FFmpeg */

rd_result rd_video_open(rd_context *ctx, const char *path, const rd_video_desc *desc, rd_video_writer **out)
{
    (void)desc;
    if (out) *out = NULL;
    return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: video needs FFmpeg's libraries, which this build lacks", path ? path : "video");
}
rd_result rd_video_write(rd_video_writer *video, const rd_image *frame)
{
    (void)video, (void)frame;
    return RD_ERROR_UNSUPPORTED;
}
rd_result rd_video_close(rd_video_writer *video, bool write)
{
    (void)video, (void)write;
    return RD_OK;
}
rd_result rd_video_read(rd_context *ctx, const char *path, rd_image *frames, int max_frames, int *count)
{
    (void)frames, (void)max_frames;
    *count = 0;
    return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: video needs FFmpeg's libraries, which this build lacks", path);
}
#endif
